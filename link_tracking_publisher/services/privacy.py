"""Privacy (data-subject) requests: created through the API or the admin, processed by a
pluggable processor in a Celery task, with status, result and errors recorded on the row.

The subject's identifier (an ``sms_msg_id``, a click id, an IP hash, a link id) is never
stored: the row keeps :func:`subject_hash`, an HMAC-SHA256 under
``LINK_TRACKING['PRIVACY_HASH_KEY']``, and every store finds the subject's data by hashing its
own values and comparing (:meth:`Subject.matches`).

The processor is ``LINK_TRACKING['PRIVACY_REQUEST_PROCESSOR']``: a dotted path to a callable
that takes the :class:`PrivacyRequest` and returns its result, a JSON-able dict (a class is
instantiated once, without arguments, and its instance called). A result with a non-empty
``remaining`` list marks the request ``partial``; otherwise it is ``complete``. The processor
raises :class:`PrivacyRequestRejected` to refuse a request (status ``rejected``); any other
exception marks it ``failed``. Failed and partial requests may be retried. A processor may run
more than once for one request, so it must be idempotent.

The default, :class:`StoresProcessor`, runs one processor per store that holds a visitor's data
(``LINK_TRACKING['PRIVACY_STORES']``): :class:`ControlPlaneStore` (the control plane's own
rows), :class:`S3ClickEventStore` (click events in S3: objects rewritten without the subject's
events), :class:`ClickStatisticsStore` (per-message click counts), :class:`WebhookDeliveryStore`
(the click webhook outbox: pending deliveries cancelled, sent ones redacted) and, when
``PRIVACY_HOST_PROCESSOR`` is set, the host's own (:class:`HostStore`). The request is
``complete`` only when every store reports done. See docs/PRIVACY.md.

Each store declares the model fields it covers (``fields``, as ``"app_label.Model.field"``);
:func:`covered_fields` joins them, and :data:`NOT_SUBJECT_DATA` names the fields that look as if
they could hold an identifier but do not, with the reason. A store may declare the subject
types it finds its rows by (``subject_types``, every type by default; :func:`covered_subject_types`).
``tests/security/test_privacy_coverage.py`` fails when a model field that can hold an identifier
is in neither, when the store covering a field that can hold an ``ip_hash`` or click id does not
find its rows by it, and when a row a click writes is not found by the click's identifiers.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import gzip
import hashlib
import hmac
import io
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import dispatch
from ..aws import service_client
from ..conf import app_settings
from ..dispatch import enqueue_on_commit
from ..errors import LinkTrackingError
from ..models import (
    ClickWebhookDelivery,
    Link,
    LinkImport,
    LinkVersion,
    MessageClick,
    MessageToken,
    PrivacyRequest,
)
from .api_keys import acting_user
from .errors import InvalidState

__all__ = [
    "NOT_SUBJECT_DATA",
    "REDACTED",
    "ClickStatisticsStore",
    "ControlPlaneStore",
    "HostStore",
    "PrivacyRequestProcessor",
    "PrivacyRequestRejected",
    "S3ClickEventStore",
    "StoreReport",
    "StoresProcessor",
    "Subject",
    "WebhookDeliveryStore",
    "covered_fields",
    "covered_subject_types",
    "create_privacy_request",
    "delivery_subject_hashes",
    "get_processor",
    "process_privacy_request",
    "redact_payload",
    "retry_privacy_request",
    "subject_hash",
]

logger = logging.getLogger(__name__)

PrivacyRequestProcessor = Callable[[PrivacyRequest], Mapping[str, Any]]
Status = PrivacyRequest.Status
MAX_ERROR_LENGTH = 4000
SUBJECT_MAX_LENGTH = 256


class PrivacyRequestRejected(LinkTrackingError):
    """A processor refuses the request; the message says why (it is recorded)."""


# --- the subject, kept as a keyed hash ----------------------------------------------------------


def _hash_key() -> bytes:
    key = app_settings.PRIVACY_HASH_KEY
    if key:
        return str(key).encode()
    # No dedicated key: one derived from SECRET_KEY (rotating SECRET_KEY changes later hashes).
    return hashlib.sha256(b"link_tracking.privacy:" + settings.SECRET_KEY.encode()).digest()


def subject_hash(subject_type: str, value: str) -> str:
    """The HMAC-SHA256 a privacy request keeps instead of its subject's identifier."""
    message = f"{subject_type}:{value}".encode()
    return hmac.new(_hash_key(), message, hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class Subject:
    """Whose data a request is about: the subject type and the keyed hash of the identifier."""

    type: str
    hash: str

    @classmethod
    def of(cls, request: PrivacyRequest) -> Subject:
        return cls(request.subject_type, request.subject_hash)

    def matches(self, value: Any) -> bool:
        """Whether ``value`` (a store's own copy of an identifier) is the subject's."""
        if value is None or value == "":
            return False
        return hmac.compare_digest(subject_hash(self.type, str(value)), self.hash)

    def hashed_in(self, hashes: Any) -> bool:
        """Whether the subject's hash is one of ``hashes`` (a store's keyed hashes)."""
        return isinstance(hashes, list) and any(
            isinstance(value, str) and hmac.compare_digest(value, self.hash) for value in hashes
        )


#: Where a click event holds each kind of subject: (column, forwarded param or None).
EVENT_SUBJECT_FIELDS: dict[str, tuple[str, str | None]] = {
    PrivacyRequest.SubjectType.SMS_MSG_ID: ("sms_msg_id", "sms_msg_id"),
    PrivacyRequest.SubjectType.CLICK_ID: ("click_session_id", "click_id"),
    PrivacyRequest.SubjectType.IP_HASH: ("ip_hash", None),
    PrivacyRequest.SubjectType.LINK: ("link_id", None),
}


def event_matches(subject: Subject, event: Mapping[str, Any]) -> bool:
    """Whether a click event (as decoded from JSON) is about ``subject``."""
    column, param = EVENT_SUBJECT_FIELDS[subject.type]
    if subject.matches(event.get(column)):
        return True
    forwarded = event.get("forwarded_params")
    return bool(param and isinstance(forwarded, Mapping) and subject.matches(forwarded.get(param)))


# --- requests ---------------------------------------------------------------------------------


def get_processor() -> PrivacyRequestProcessor:
    """The configured processor (imported once per dotted path)."""
    processor: PrivacyRequestProcessor = app_settings.imported("PRIVACY_REQUEST_PROCESSOR")
    return processor


def _enqueue(request: PrivacyRequest) -> None:
    enqueue_on_commit(dispatch.PROCESS_PRIVACY_REQUEST, str(request.pk))


def create_privacy_request(
    *, account: Any, request_type: str, subject_type: str, subject_value: str, user: Any = None
) -> PrivacyRequest:
    """Record a request (PENDING), keeping only the keyed hash of ``subject_value``, and
    enqueue its processing after commit. A ``link`` subject must be one of the account's."""
    value = subject_value if isinstance(subject_value, str) else ""
    if not value or len(value) > SUBJECT_MAX_LENGTH:
        raise ValidationError(
            {
                "subject_value": f"Enter the subject's identifier (1 to {SUBJECT_MAX_LENGTH} characters)."
            }
        )
    if subject_type == PrivacyRequest.SubjectType.LINK:
        try:
            value = str(uuid.UUID(value))
        except ValueError:
            raise ValidationError({"subject_value": "Enter the id (a UUID) of a link."}) from None
        if not Link.objects.filter(pk=value, account=account).exists():
            raise ValidationError({"subject_value": "This account has no link with this id."})
    request = PrivacyRequest(
        account=account,
        request_type=request_type,
        subject_type=subject_type,
        subject_hash=subject_hash(subject_type, value),
        requested_by=acting_user(user),
    )
    request.full_clean()
    with transaction.atomic():
        request.save(force_insert=True)
        _enqueue(request)
    return request


def retry_privacy_request(request: PrivacyRequest) -> PrivacyRequest:
    """Process a FAILED or PARTIAL request again (after its cause was fixed, or for what was
    left). Raises :class:`InvalidState` otherwise."""
    with transaction.atomic():
        claimed = PrivacyRequest.objects.filter(
            pk=request.pk, status__in=[Status.FAILED, Status.PARTIAL]
        ).update(
            status=Status.PENDING, error_message="", completed_at=None, updated_at=timezone.now()
        )
        if not claimed:
            raise InvalidState("Only failed or partial privacy requests can be retried.")
        _enqueue(request)
    request.refresh_from_db()
    return request


def process_privacy_request(request_id: Any) -> str:
    """Run the processor on one request and record the outcome; returns the new status.

    Requests already complete, partial, rejected or failed are left alone (a redelivered task
    does nothing); a PROCESSING one is taken again (its worker died).
    """
    claimed = PrivacyRequest.objects.filter(
        pk=request_id, status__in=[Status.PENDING, Status.PROCESSING]
    ).update(status=Status.PROCESSING, updated_at=timezone.now())
    request = PrivacyRequest.objects.filter(pk=request_id).first()
    if request is None:
        return "missing"
    if not claimed:
        return str(request.status)
    fields: dict[str, Any]
    try:
        result = dict(get_processor()(request))
    except PrivacyRequestRejected as exc:
        fields = {"status": Status.REJECTED, "error_message": str(exc)[:MAX_ERROR_LENGTH]}
    except Exception as exc:  # any processor failure is recorded, never lost
        logger.exception("privacy request %s failed", request_id)
        fields = {
            "status": Status.FAILED,
            "error_message": f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH],
        }
    else:
        status = Status.PARTIAL if result.get("remaining") else Status.COMPLETE
        fields = {"status": status, "result": result, "error_message": ""}
    now = timezone.now()
    PrivacyRequest.objects.filter(pk=request_id).update(completed_at=now, updated_at=now, **fields)
    return str(fields["status"])


# --- stores -----------------------------------------------------------------------------------


@dataclasses.dataclass
class StoreReport:
    """What one store did: ``done`` only when nothing of the subject's is left there (erasure)
    or everything was found (access); ``remaining`` says what is left when not."""

    done: bool
    found: int = 0
    erased: int = 0
    remaining: str = ""
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ControlPlaneStore:
    """The control plane's own rows. It stores no click data; a subject's identifier can only
    appear in a link someone typed (keyword, a query value of the destination or fallback, a
    UTM override). Those are reported, never rewritten (that would break a live link): an
    erasure that finds any is not done until a person edits them. The same holds for the files
    of link imports (kept with the job) and the errors reported on them. Privacy requests
    themselves hold only the keyed hash."""

    name = "control_plane"
    fields: ClassVar[tuple[str, ...]] = (
        "link_tracking.Link.keyword",
        "link_tracking.Link.destination_url",
        "link_tracking.Link.fallback_url",
        "link_tracking.Link.utm_overrides",
        "link_tracking.Link.routing_rules",
        "link_tracking.LinkVersion.destination_url",
        "link_tracking.LinkVersion.utm_overrides",
        "link_tracking.LinkVersion.routing_rules",
        "link_tracking.LinkVersion.changes",
        "link_tracking.LinkVersion.change_reason",
        "link_tracking.LinkImport.content",
        "link_tracking.LinkImport.errors",
    )

    def __call__(self, request: PrivacyRequest, subject: Subject) -> StoreReport:
        links = Link.objects.filter(account_id=request.account_id)
        if subject.type == PrivacyRequest.SubjectType.LINK:
            return self._link(request, subject, links)
        matches = [
            {"model": "link", "id": str(link.pk), "field": field}
            for link in links.only(
                "pk", "keyword", "destination_url", "fallback_url", "utm_overrides", "routing_rules"
            )
            for field, values in self._values(link)
            if any(subject.matches(v) for v in values)
        ]
        for version in LinkVersion.objects.filter(link__account_id=request.account_id):
            values = [v for _, v in parse_qsl(urlsplit(version.destination_url).query)]
            values += version.change_reason.split()
            values += [str(x) for pair in (version.changes or {}).values() for x in pair]
            for document in (version.changes, version.utm_overrides, version.routing_rules):
                values += [v for text in _strings(document) for v in _text_values(text)]
            if any(subject.matches(v) for v in values):
                matches.append({"model": "link_version", "id": str(version.pk)})
        for job in LinkImport.objects.filter(account_id=request.account_id).only(
            "pk", "content", "errors"
        ):
            cells = [
                cell
                for row in csv.reader(io.StringIO(bytes(job.content).decode("utf-8", "replace")))
                for cell in row
            ]
            cells += _strings(job.errors)
            if any(subject.matches(v) for cell in cells for v in _text_values(cell)):
                matches.append({"model": "link_import", "id": str(job.pk)})
        report = StoreReport(done=True, found=len(matches), detail={"matches": matches})
        if matches and request.request_type == PrivacyRequest.RequestType.ERASURE:
            report.done = False
            report.remaining = (
                f"The identifier occurs in {len(matches)} link field(s) (see matches); nothing "
                "was changed automatically: edit or deactivate those links (delete those link "
                "imports), then retry."
            )
        return report

    @staticmethod
    def _values(link: Link) -> Iterator[tuple[str, list[str]]]:
        yield "keyword", [link.keyword]
        for field in ("destination_url", "fallback_url"):
            url = getattr(link, field) or ""
            parts = urlsplit(url)
            yield field, [v for _, v in parse_qsl(parts.query)] + parts.path.split("/")
        yield "utm_overrides", [str(v) for v in (link.utm_overrides or {}).values()]
        yield (
            "routing_rules",
            [v for text in _strings(link.routing_rules) for v in _text_values(text)],
        )

    def _link(self, request: PrivacyRequest, subject: Subject, links: Any) -> StoreReport:
        link = next((x for x in links if subject.matches(str(x.pk))), None)
        if link is None or request.request_type == PrivacyRequest.RequestType.ERASURE:
            # A link is not personal data: erasure by link erases its click events, not it.
            return StoreReport(done=True, found=int(link is not None))
        history = [
            {
                "version": v.version,
                "changes": v.changes,
                "change_reason": v.change_reason,
                "created_at": v.created_at.isoformat(),
            }
            for v in link.versions.order_by("version")
        ]
        detail = {
            "link": {
                "id": str(link.pk),
                "short_url": link.get_full_url(),
                "destination_url": link.destination_url,
                "keyword": link.keyword,
                "channel": link.channel,
                "active": link.active,
                "created_at": link.created_at.isoformat(),
            },
            "versions": history,
        }
        return StoreReport(done=True, found=1, detail=detail)


def _strings(document: Any) -> list[str]:
    """Every string (keys excepted) in a JSON document."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, Mapping):
        return [text for value in document.values() for text in _strings(value)]
    if isinstance(document, list):
        return [text for value in document for text in _strings(value)]
    return [] if document is None else [str(document)]


def _text_values(text: str) -> list[str]:
    """The values a typed text can carry an identifier in: itself, its words, and, read as a
    URL, its query values and path segments."""
    parts = urlsplit(text)
    return [
        text,
        *text.split(),
        *(v for _, v in parse_qsl(parts.query)),
        *parts.path.split("/"),
    ]


class ClickStatisticsStore:
    """The click statistics ingested into the control plane's database. Only per-message
    attribution (``MessageClick``) holds an identifier, the ``sms_msg_id``: access returns the
    subject's rows, erasure deletes them. The hourly rollups are counts without identifiers;
    distinct visitors are kept as a 64-bit hash of the already keyed ``ip_hash``, which a
    request (holding only the subject's keyed hash) cannot be matched against and which links
    to no one without the click events, which ``S3ClickEventStore`` erases. A per-message
    link's ``MessageToken`` holds the message id its token stands for: access lists them,
    erasure deletes them (a later click on that link's token then names no message)."""

    name = "click_statistics"
    fields: ClassVar[tuple[str, ...]] = (
        "link_tracking.MessageClick.sms_msg_id",
        "link_tracking.MessageToken.sms_msg_id",
    )
    #: A row counts one message's clicks (any visitor's): it is found by its ``sms_msg_id``.
    subject_types: ClassVar[frozenset[str]] = frozenset({PrivacyRequest.SubjectType.SMS_MSG_ID})

    def __call__(self, request: PrivacyRequest, subject: Subject) -> StoreReport:
        if subject.type != PrivacyRequest.SubjectType.SMS_MSG_ID:
            return StoreReport(done=True)
        rows = [
            row
            for row in MessageClick.objects.filter(link__account_id=request.account_id).only(
                "pk", "sms_msg_id", "link_id", "human_clicks", "bot_clicks", "last_click_at"
            )
            if subject.matches(row.sms_msg_id)
        ]
        tokens = [
            token
            for token in MessageToken.objects.filter(link__account_id=request.account_id).only(
                "pk", "sms_msg_id", "link_id", "sequence", "created_at"
            )
            if subject.matches(token.sms_msg_id)
        ]
        found = len(rows) + len(tokens)
        if request.request_type == PrivacyRequest.RequestType.ERASURE:
            erased, _ = MessageClick.objects.filter(pk__in=[row.pk for row in rows]).delete()
            erased_tokens, _ = MessageToken.objects.filter(
                pk__in=[token.pk for token in tokens]
            ).delete()
            return StoreReport(done=True, found=found, erased=erased + erased_tokens)
        detail = {
            "message_links": [
                {
                    "link_id": str(token.link_id),
                    "sequence": token.sequence,
                    "issued_at": token.created_at.isoformat(),
                }
                for token in tokens
            ],
            "message_clicks": [
                {
                    "link_id": str(row.link_id),
                    "human_clicks": row.human_clicks,
                    "bot_clicks": row.bot_clicks,
                    "last_click_at": row.last_click_at.isoformat(),
                }
                for row in rows
            ],
        }
        return StoreReport(done=True, found=found, detail=detail)


def _decode_line(line: bytes) -> Mapping[str, Any] | None:
    """A click event from one NDJSON line; Firehose's error records carry it base64-encoded
    in ``rawData``. ``None`` for anything else (kept as it is)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("rawData"), str):
        try:
            value = json.loads(base64.b64decode(value["rawData"]))
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


class S3ClickEventStore:
    """Click events in S3 (``CLICK_EVENTS_BUCKET``, under ``CLICK_EVENTS_PREFIXES``).

    NDJSON objects (gzip or not, Firehose error records included) are read line by line, and
    Parquet objects (what Firehose writes through the Glue table) row by row with DuckDB; each
    event is tested by :func:`event_matches`. For an erasure, an object holding the subject's
    events is rewritten without them, in its own format (Parquet keeps its schema and Snappy
    compression), or deleted when nothing is left, and its earlier versions are deleted, so a
    versioned bucket keeps no copy. An object that cannot be read is reported and keeps the
    store not done. Every object is read on every request: at volumes where that is too slow,
    a host processor over Athena is the tool.
    """

    name = "click_events_s3"
    fields: ClassVar[tuple[str, ...]] = ()  # no model: the objects of CLICK_EVENTS_BUCKET

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = service_client("s3")
        return self._client

    def __call__(self, request: PrivacyRequest, subject: Subject) -> StoreReport:
        bucket = app_settings.CLICK_EVENTS_BUCKET
        if not bucket:
            return StoreReport(
                done=False,
                remaining="LINK_TRACKING['CLICK_EVENTS_BUCKET'] is not set: click events were "
                "not searched.",
            )
        erase = request.request_type == PrivacyRequest.RequestType.ERASURE
        report = StoreReport(
            done=True, detail={"objects": 0, "rewritten": 0, "parquet": 0, "unreadable": []}
        )
        events: list[Mapping[str, Any]] = []
        for key in self._keys(bucket):
            report.detail["objects"] += 1
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            if key.endswith(".parquet") or body[:4] == PARQUET_MAGIC:
                report.detail["parquet"] += 1
                try:
                    found_events, kept = _parquet_without(body, subject, erase)
                except _UnreadableObject as exc:
                    report.detail["unreadable"].append({"key": key, "error": str(exc)})
                    continue
                compressed = False
            else:
                compressed = body[:2] == b"\x1f\x8b"
                found_events, kept = _ndjson_without(body, subject, erase, compressed)
            report.found += len(found_events)
            if not erase:
                events.extend(found_events)
            elif found_events:
                self._rewrite(bucket, key, kept, compressed)
                report.erased += len(found_events)
                report.detail["rewritten"] += 1
        if report.detail["unreadable"]:
            report.done = False
            report.remaining = (
                f"{len(report.detail['unreadable'])} object(s) could not be read (see "
                "unreadable); fix or remove them, then retry."
            )
        if not erase:
            report.detail["events"] = events[:1000]
        return report

    def _keys(self, bucket: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for prefix in app_settings.CLICK_EVENTS_PREFIXES:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]

    def _rewrite(self, bucket: str, key: str, data: bytes, compressed: bool) -> None:
        current = None
        if data.strip():
            body = gzip.compress(data) if compressed else data
            current = self.client.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId")
        else:
            self.client.delete_object(Bucket=bucket, Key=key)
        # A versioned bucket keeps the old object as a noncurrent version: delete those too.
        versions = self.client.list_object_versions(Bucket=bucket, Prefix=key)
        for item in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]:
            if item["Key"] == key and item.get("VersionId") not in (None, "null", current):
                self.client.delete_object(Bucket=bucket, Key=key, VersionId=item["VersionId"])


PARQUET_MAGIC = b"PAR1"


class _UnreadableObject(Exception):
    """A click-events object that is neither NDJSON nor readable Parquet."""


def _ndjson_without(
    body: bytes, subject: Subject, erase: bool, compressed: bool
) -> tuple[list[Mapping[str, Any]], bytes]:
    """(the subject's events, the object's NDJSON without them when erasing)."""
    text = gzip.decompress(body) if compressed else body
    found: list[Mapping[str, Any]] = []
    kept: list[bytes] = []
    for line in text.splitlines(keepends=True):
        event = _decode_line(line) if line.strip() else None
        if event is not None and event_matches(subject, event):
            found.append(event)
            if erase:
                continue
        kept.append(line)
    return found, b"".join(kept)


def _parquet_without(
    body: bytes, subject: Subject, erase: bool
) -> tuple[list[Mapping[str, Any]], bytes]:
    """(the subject's events, the Parquet object without them when erasing), through DuckDB:
    rows are read in chunks and tested by :func:`event_matches`, then the object is copied
    without the matched rows (by ``file_row_number``), keeping its schema, Snappy-compressed
    as Firehose writes it."""
    # Imported here: DuckDB takes about 0.1 s to import, and only an erasure that touches a
    # Parquet object needs it.
    import duckdb

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.parquet", Path(folder) / "out.parquet"
        source.write_bytes(body)
        con = duckdb.connect(":memory:")
        try:
            cursor = con.execute(
                "SELECT * FROM read_parquet(?, file_row_number = true)", [str(source)]
            )
            names = [column[0] for column in cursor.description]
            found: list[Mapping[str, Any]] = []
            matched: list[int] = []
            while rows := cursor.fetchmany(10_000):
                for row in rows:
                    event = dict(zip(names, row, strict=True))
                    number = event.pop("file_row_number")
                    if event_matches(subject, event):
                        matched.append(int(number))
                        found.append(json.loads(json.dumps(event, default=str)))
            if not erase or not matched:
                return found, body
            con.execute("CREATE TEMP TABLE erased (n BIGINT)")
            con.executemany("INSERT INTO erased VALUES (?)", [[n] for n in matched])
            con.execute(
                "COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet(?, "
                "file_row_number = true) WHERE file_row_number NOT IN (SELECT n FROM erased) "
                f"ORDER BY file_row_number) TO '{target}' (FORMAT PARQUET, COMPRESSION SNAPPY)",
                [str(source)],
            )
            remaining = con.execute("SELECT count(*) FROM read_parquet(?)", [str(target)])
            left = remaining.fetchone()
        except duckdb.Error as exc:
            raise _UnreadableObject(f"unreadable Parquet: {exc}") from None
        finally:
            con.close()
        return found, (target.read_bytes() if left and left[0] else b"")


#: What an erased identifier is replaced with in a payload that is kept.
REDACTED = "[erased]"

#: The payload keys that identify a visitor or their click (every subject column and
#: forwarded param of :data:`EVENT_SUBJECT_FIELDS` but the link, which is not personal data).
IDENTIFYING_KEYS = frozenset(
    name
    for subject_type, (column, param) in EVENT_SUBJECT_FIELDS.items()
    if subject_type != PrivacyRequest.SubjectType.LINK
    for name in (column, param)
    if name
) | {"click_id", "email"}


def delivery_subject_hashes(*, ip_hash: str | None, click_id: str | None) -> list[str]:
    """What a click's webhook delivery keeps beside its payload so that a request by the
    click's ``ip_hash`` or click id (which the payload does not carry) finds it: the keyed
    :func:`subject_hash` of each, never the identifier."""
    return [
        subject_hash(subject_type, value)
        for subject_type, value in (
            (PrivacyRequest.SubjectType.IP_HASH, ip_hash),
            (PrivacyRequest.SubjectType.CLICK_ID, click_id),
        )
        if value
    ]


def redact_payload(payload: Any) -> Any:
    """``payload`` with the value of every identifying key (:data:`IDENTIFYING_KEYS`, at any
    depth, e.g. inside ``forwarded_params``) replaced by :data:`REDACTED`; idempotent."""
    if isinstance(payload, Mapping):
        return {
            key: (
                REDACTED
                if key in IDENTIFYING_KEYS and value not in (None, "")
                else redact_payload(value)
            )
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [redact_payload(value) for value in payload]
    return payload


class WebhookDeliveryStore:
    """The click webhook outbox (:class:`ClickWebhookDelivery`) of the request's account.

    A delivery is the subject's when its payload matches as a click event does
    (:func:`event_matches`: its ``sms_msg_id``, ``link_id``, and any click id or IP hash a
    payload carries), or when the subject's hash is one of its ``subject_hashes`` (the click's
    ``ip_hash`` and click id, :func:`delivery_subject_hashes`, written with the delivery).
    Access lists them. Erasure cancels the ones not sent yet (PENDING, or
    SENDING: a worker's attempt in flight then records nothing, and the POST it may have made is
    counted in ``in_flight``), a terminal state that is never sent or retried, and redacts the
    payload of every one (:func:`redact_payload`), sent and failed ones included, and empties
    its ``subject_hashes``. The store is done only when, read back, none of them is still due
    or still holds an identifier or a hash of one.

    ``event_id`` stays: it is the receivers' deduplication key, a random id that points to a
    click event the S3 store erases."""

    name = "webhook_deliveries"
    subject_types: ClassVar[frozenset[str]] = frozenset(PrivacyRequest.SubjectType.values)
    fields: ClassVar[tuple[str, ...]] = (
        "link_tracking.ClickWebhookDelivery.payload",
        "link_tracking.ClickWebhookDelivery.subject_hashes",
    )
    #: States in which a delivery may still be sent: erasure cancels them.
    NOT_SENT = (ClickWebhookDelivery.Status.PENDING, ClickWebhookDelivery.Status.SENDING)

    def __call__(self, request: PrivacyRequest, subject: Subject) -> StoreReport:
        pks = [
            pk
            for pk, payload, hashes in ClickWebhookDelivery.objects.filter(
                webhook__account_id=request.account_id
            ).values_list("pk", "payload", "subject_hashes")
            if (isinstance(payload, Mapping) and event_matches(subject, payload))
            or subject.hashed_in(hashes)
        ]
        if request.request_type != PrivacyRequest.RequestType.ERASURE:
            return self._access(pks)
        cancelled = in_flight = 0
        with transaction.atomic():
            for delivery in ClickWebhookDelivery.objects.select_for_update().filter(pk__in=pks):
                changes: dict[str, Any] = {
                    "payload": redact_payload(delivery.payload),
                    "subject_hashes": [],
                    "updated_at": timezone.now(),
                }
                if delivery.status in self.NOT_SENT:
                    cancelled += 1
                    in_flight += delivery.status == ClickWebhookDelivery.Status.SENDING
                    changes.update(
                        status=ClickWebhookDelivery.Status.CANCELLED,
                        last_error=f"cancelled by privacy request {request.pk}",
                    )
                ClickWebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
        left = [
            pk
            for pk, status, payload, hashes in ClickWebhookDelivery.objects.filter(
                pk__in=pks
            ).values_list("pk", "status", "payload", "subject_hashes")
            if status in self.NOT_SENT or redact_payload(payload) != payload or hashes
        ]
        report = StoreReport(
            done=not left,
            found=len(pks),
            erased=len(pks) - len(left),
            detail={
                "cancelled": cancelled,
                "redacted": len(pks) - cancelled,
                "in_flight": in_flight,
            },
        )
        if left:
            report.remaining = (
                f"{len(left)} webhook deliveries still hold the identifier or are due; retry."
            )
        return report

    @staticmethod
    def _access(pks: list[int]) -> StoreReport:
        deliveries = [
            {
                "id": delivery.pk,
                "webhook": str(delivery.webhook_id),
                "event_id": delivery.event_id,
                "status": delivery.status,
                "created_at": delivery.created_at.isoformat(),
                "delivered_at": delivery.delivered_at and delivery.delivered_at.isoformat(),
                "payload": delivery.payload,
            }
            for delivery in ClickWebhookDelivery.objects.filter(pk__in=pks).order_by("pk")
        ]
        return StoreReport(done=True, found=len(deliveries), detail={"deliveries": deliveries})


#: Model fields that look as if they could hold a subject's identifier (the rule of
#: tests/security/test_privacy_coverage.py) but do not, and why.
NOT_SUBJECT_DATA: dict[str, str] = {
    "link_tracking.Domain.apple_app_site_association": "the domain's app association file: "
    "app ids and paths",
    "link_tracking.Domain.assetlinks": "the domain's Android asset links: package names and "
    "certificate fingerprints",
    "link_tracking.LinkCampaign.utm_template": "a campaign-wide UTM template, the same for "
    "every recipient",
    "link_tracking.GlobalUTMPolicy.default_utm_params": "account-wide UTM defaults",
    "link_tracking.Link.dynamic_param_allowlist": "names of forwarded params, never values",
    "link_tracking.PrivacyRequest.subject_hash": "the keyed hash of the subject, never the "
    "identifier (kept as the record of the request)",
    "link_tracking.PrivacyRequest.result": "the stores' reports; an access request's result is "
    "the subject's own copy, kept as the record of the request (docs/PRIVACY.md)",
    "link_tracking.ClickVisitor.visitor": "64 bits of a hash of the keyed ip_hash: a request "
    "cannot be matched against it, and it links to no one once the click events are erased",
    "link_tracking.ClickWebhook.url": "the account's receiver endpoint, not a visitor's",
    "link_tracking.Domain.not_found_url": "the domain's own not-found page, the same for every "
    "visitor",
    "link_tracking.ApiKey.scopes": "the names of what a machine client's key may do",
}


def covered_fields() -> dict[str, str]:
    """Every model field a store of ``LINK_TRACKING['PRIVACY_STORES']`` covers
    (``"app_label.Model.field"``), with the store's name."""
    return {
        field: store.name
        for store in app_settings.imported("PRIVACY_STORES")
        for field in getattr(store, "fields", ())
    }


def covered_subject_types() -> dict[str, frozenset[str]]:
    """The subject types by which the store covering each field finds its rows: the store's
    ``subject_types``, every subject type when it declares none."""
    every = frozenset(PrivacyRequest.SubjectType.values)
    return {
        field: frozenset(getattr(store, "subject_types", every))
        for store in app_settings.imported("PRIVACY_STORES")
        for field in getattr(store, "fields", ())
    }


class HostStore:
    """The host project's own store (``LINK_TRACKING['PRIVACY_HOST_PROCESSOR']``): a callable
    taking the request and the :class:`Subject` and returning a mapping with ``done`` (bool) and
    optionally ``found``, ``erased``, ``remaining`` and ``detail``."""

    name = "host"

    def __init__(self, hook: Callable[[PrivacyRequest, Subject], Mapping[str, Any]]) -> None:
        self.hook = hook

    def __call__(self, request: PrivacyRequest, subject: Subject) -> StoreReport:
        answer = dict(self.hook(request, subject))
        return StoreReport(
            done=bool(answer.get("done")),
            found=int(answer.get("found", 0)),
            erased=int(answer.get("erased", 0)),
            remaining=str(
                answer.get("remaining", "") or ("" if answer.get("done") else "not done")
            ),
            detail=dict(answer.get("detail", {})),
        )


class StoresProcessor:
    """The default processor: one processor per store; ``remaining`` lists every store that is
    not done (and what is left there), which makes the request ``partial``."""

    def stores(self) -> list[Callable[[PrivacyRequest, Subject], StoreReport]]:
        stores: list[Any] = [store() for store in app_settings.imported("PRIVACY_STORES")]
        hook = app_settings.imported("PRIVACY_HOST_PROCESSOR")
        if hook is not None:
            stores.append(HostStore(hook))
        return stores

    def __call__(self, request: PrivacyRequest) -> dict[str, Any]:
        subject = Subject.of(request)
        reports: dict[str, Any] = {}
        remaining: list[dict[str, str]] = []
        for store in self.stores():
            name = getattr(store, "name", type(store).__name__)
            report = store(request, subject)
            reports[name] = report.as_dict()
            if not report.done:
                remaining.append({"store": name, "detail": report.remaining})
        return {
            "processor": "stores",
            "stores": reports,
            "found": sum(r["found"] for r in reports.values()),
            "erased": sum(r["erased"] for r in reports.values()),
            "remaining": remaining,
            "processed_at": timezone.now().isoformat(),
        }
