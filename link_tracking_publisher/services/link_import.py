"""CSV import of links: every row made with :func:`create_link` (versioned, outboxed,
published after commit), all or nothing, with errors naming the row and the column.

Two layouts are read, told apart by their header:

- ours (the export's, :data:`~.link_csv.EXPORT_COLUMNS`): ``destination_url`` required;
  ``domain, slug, keyword, channel, campaign, tags, fallback_url, active, expires_at,
  max_clicks`` optional (``tags``: names of the account's tags, ``|``-separated; a name that
  is no tag of the account is an error of the row, tags are not created by an import);
  ``short_url, created_at, human_clicks, bot_clicks`` (the export's read-only columns)
  ignored;
- Bitly's link export: ``long_url`` required (the destination); the back-half of ``link`` (or
  ``id``) becomes the slug, ``archived`` = true makes the link inactive; ``title``, ``tags``,
  ``created_at``, ``custom_bitlinks`` and ``group_guid`` are ignored (Bitly's tags are
  not this account's tags: tag the links after the import).

A dry run does the whole import in a transaction and rolls it back, so it reports exactly
what the import would (taken slugs included) and writes nothing.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import transaction
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from ..conf import app_settings
from ..models import Channel, Domain, Link, LinkCampaign
from .link_csv import EXPORT_COLUMNS, unescape_cell
from .links import create_link
from .tags import resolve_tags, split_tag_names

__all__ = [
    "IMPORT_MAX_BYTES",
    "IMPORT_MAX_COLUMNS",
    "IMPORT_MAX_HEADER_BYTES",
    "IMPORT_MAX_REPORTED_ERRORS",
    "ImportFile",
    "ImportResult",
    "OnBatch",
    "RowError",
    "import_links",
    "read_import_file",
]

#: The largest file an import reads.
IMPORT_MAX_BYTES = 10_000_000
#: The most columns, and bytes of column names, a header may have (the export has 15
#: columns): checked before the header is looked at name by name.
IMPORT_MAX_COLUMNS = 50
IMPORT_MAX_HEADER_BYTES = 2000
#: The most problems one read reports before a last one saying how many more there were.
IMPORT_MAX_REPORTED_ERRORS = 100

IMPORTED = ["domain", "slug", "destination_url", "keyword", "channel", "campaign", "tags"] + [
    "fallback_url",
    "active",
    "expires_at",
    "max_clicks",
]
IGNORED = [c for c in EXPORT_COLUMNS if c not in IMPORTED]
BITLY_COLUMNS = ["long_url", "link", "id", "title", "tags", "created_at", "archived"] + [
    "custom_bitlinks",
    "group_guid",
]


@dataclass(frozen=True)
class RowError:
    #: 1 is the header line; None for the file as a whole.
    row: int | None
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ImportResult:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def _read(data: bytes) -> tuple[list[str], list[dict[str, str]], list[RowError]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [], [RowError(None, None, f"Not UTF-8 (byte {exc.start}): save as CSV UTF-8.")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = next(reader)
    except StopIteration:
        return [], [], [RowError(None, None, "The file is empty.")]
    except csv.Error as exc:
        return [], [], [RowError(1, None, f"Not CSV: {exc}.")]
    header_error = _header_size_error(names)
    if header_error is not None:
        return [], [], [header_error]
    header = [name.strip().lower() for name in names]
    rows: list[dict[str, str]] = []
    errors: list[RowError] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                rows.append({})  # a blank line keeps its row number and is skipped
                continue
            if len(values) != len(header):
                errors.append(
                    RowError(
                        reader.line_num,
                        None,
                        f"{len(values)} values for {len(header)} columns.",
                    )
                )
            cells = (unescape_cell(v.strip()) for v in values)
            rows.append(dict(zip(header, cells, strict=False)))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, None, f"Not CSV: {exc}."))
    return header, rows, errors


def _header_size_error(names: list[str]) -> RowError | None:
    if len(names) > IMPORT_MAX_COLUMNS:
        return RowError(
            1, None, f"{len(names)} columns; at most {IMPORT_MAX_COLUMNS} (IMPORT_MAX_COLUMNS)."
        )
    size = len(",".join(names).encode("utf-8"))
    if size > IMPORT_MAX_HEADER_BYTES:
        return RowError(
            1,
            None,
            f"A header of {size} bytes; at most {IMPORT_MAX_HEADER_BYTES} (IMPORT_MAX_HEADER_BYTES).",
        )
    return None


def _bounded(errors: list[RowError]) -> list[RowError]:
    """``errors``, the first :data:`IMPORT_MAX_REPORTED_ERRORS` of them and a count of the rest."""
    if len(errors) <= IMPORT_MAX_REPORTED_ERRORS:
        return errors
    more = len(errors) - IMPORT_MAX_REPORTED_ERRORS
    return [
        *errors[:IMPORT_MAX_REPORTED_ERRORS],
        RowError(
            None,
            None,
            f"And {more} more problems (the first {IMPORT_MAX_REPORTED_ERRORS} are shown).",
        ),
    ]


def _check_header(header: list[str]) -> tuple[str, list[RowError]]:
    if "destination_url" in header:
        layout, known = "native", IMPORTED + IGNORED
    elif "long_url" in header:
        layout, known = "bitly", BITLY_COLUMNS
    else:
        return "", [
            RowError(
                1,
                None,
                "The header needs a destination_url column (or long_url, as Bitly exports).",
            )
        ]
    errors = [
        RowError(1, name or "(blank)", f"Unknown column; expected some of: {', '.join(known)}.")
        for name in header
        if name not in known
    ]
    errors += [
        RowError(1, name, "This column appears twice.")
        for name, count in sorted(Counter(header).items())
        if count > 1
    ]
    return layout, errors


def _bitly_row(row: dict[str, str]) -> dict[str, str]:
    short = row.get("link") or row.get("id") or ""
    slug = urlsplit(short if "//" in short else f"//{short}").path.strip("/") if short else ""
    out = {"destination_url": row.get("long_url", ""), "slug": slug}
    if row.get("archived", "").lower() == "true":
        out["active"] = "false"
    return out


def _column(name: str, layout: str, raw: dict[str, str]) -> str:
    """The file's column for a field of ours (Bitly's names in a Bitly file)."""
    if layout != "bitly":
        return name
    bitly = {"destination_url": "long_url", "active": "archived"}
    bitly["slug"] = "link" if raw.get("link") else "id"
    return bitly.get(name, name)


#: The API's text fields refuse NUL characters (DRF's CharField); so does the import.
_no_null_characters = ProhibitNullCharactersValidator()

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _fields(
    row: dict[str, str], account: Any, default_domain: Domain | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """create_link's arguments from one row, and column → message for what cannot be read."""
    errors: dict[str, str] = {}
    for column in IMPORTED:
        try:
            _no_null_characters(row.get(column, ""))
        except ValidationError as exc:
            errors[column] = " ".join(exc.messages)
    out: dict[str, Any] = {"destination_url": row.get("destination_url", "")}
    name = row.get("domain", "")
    if name:
        domain = Domain.objects.filter(
            Q(account=account) | Q(account__isnull=True), domain_name__iexact=name
        ).first()
        if domain is None:
            errors["domain"] = f"No domain {name!r} this account can use."
        out["domain"] = domain
    elif default_domain is None:
        errors["domain"] = "No domain: fill this column or choose a domain for the import."
    else:
        out["domain"] = default_domain
    out["slug"] = row.get("slug") or None
    for text in ("keyword", "fallback_url"):
        if row.get(text):
            out[text] = row[text]
    if row.get("channel"):
        if row["channel"] not in Channel.values:
            errors["channel"] = f"One of {', '.join(Channel.values)}."
        out["channel"] = row["channel"]
    if row.get("campaign"):
        campaign = LinkCampaign.objects.filter(account=account, campaign_id=row["campaign"]).first()
        if campaign is None:
            errors["campaign"] = f"No campaign {row['campaign']!r} in this account."
        out["campaign"] = campaign
    if row.get("tags"):
        try:
            out["tags"] = resolve_tags(account, split_tag_names(row["tags"]))
        except ValidationError as exc:
            errors["tags"] = " ".join(exc.message_dict["tags"])
    if row.get("active"):
        active = _BOOLEANS.get(row["active"].lower())
        if active is None:
            errors["active"] = "true or false."
        out["active"] = active
    if row.get("expires_at"):
        expires: datetime | None = parse_datetime(row["expires_at"])
        if expires is None or expires.tzinfo is None:
            errors["expires_at"] = "An ISO 8601 date and time with its offset."
        out["expires_at"] = expires
    if row.get("max_clicks"):
        try:
            out["max_clicks"] = int(row["max_clicks"])
        except ValueError:
            errors["max_clicks"] = "A whole number."
    return out, errors


#: Called after each batch of rows with (data rows done so far, the batch's links, the
#: batch's errors); see :func:`import_links` for where its writes commit.
OnBatch = Callable[[int, list[Link], list[RowError]], None]


@dataclass
class ImportFile:
    """A CSV file read and its header checked: its data rows (number, cells), blank lines
    left out, or the errors that stop the import before any row is looked at."""

    layout: str = ""
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def read_import_file(data: bytes, *, max_rows: int | None = None) -> ImportFile:
    """Read ``data`` and check its header and its size (at most ``max_rows`` data rows, by
    default ``IMPORT_MAX_ROWS``); looks nothing up in the database."""
    header, rows, read_errors = _read(data)
    if not header:
        return ImportFile(errors=read_errors)
    layout, header_errors = _check_header(header)
    parsed = ImportFile(layout=layout, errors=_bounded(header_errors + read_errors))
    if parsed.errors:
        return parsed
    parsed.rows = [(number, row) for number, row in enumerate(rows, start=2) if row]
    limit = app_settings.IMPORT_MAX_ROWS if max_rows is None else max_rows
    if not parsed.rows:
        parsed.errors.append(RowError(None, None, "No rows to import."))
    elif len(parsed.rows) > limit:
        setting = "IMPORT_MAX_ROWS" if max_rows is None else "IMPORT_ASYNC_MAX_ROWS"
        parsed.errors.append(
            RowError(
                parsed.rows[limit][0],
                None,
                f"{len(parsed.rows)} rows; at most {limit} per import ({setting}).",
            )
        )
    return parsed


def _import_row(
    number: int,
    raw: dict[str, str],
    *,
    layout: str,
    account: Any,
    domain: Domain | None,
    user: Any,
    reason: str,
    seen: dict[tuple[Any, str], int],
) -> tuple[Link | None, list[RowError]]:
    """One row: its link (made in a savepoint) or its errors (and nothing written)."""
    row = _bitly_row(raw) if layout == "bitly" else raw
    fields, problems = _fields(row, account, domain)
    key = (getattr(fields.get("domain"), "pk", None), (fields["slug"] or "").upper())
    if fields["slug"] and key in seen:
        problems.setdefault("slug", f"Also used by row {seen[key]} of this file.")
    elif fields["slug"]:
        seen[key] = number
    if problems:
        return None, [
            RowError(number, _column(name, layout, raw), text) for name, text in problems.items()
        ]
    try:
        with transaction.atomic():
            link = create_link(
                account=account, user=user, reason=reason or "imported from CSV", **fields
            )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            messages = exc.message_dict
        else:
            messages = {NON_FIELD_ERRORS: exc.messages}
        return None, [
            RowError(number, None if name == NON_FIELD_ERRORS else _column(name, layout, raw), text)
            for name, texts in messages.items()
            for text in texts
        ]
    return link, []


def import_links(
    data: bytes,
    *,
    account: Any,
    domain: Domain | None = None,
    user: Any = None,
    reason: str = "",
    dry_run: bool = False,
    per_row: bool = False,
    max_rows: int | None = None,
    start: int = 0,
    batch_size: int | None = None,
    on_batch: OnBatch | None = None,
) -> ImportResult:
    """Import the links of a CSV file into ``account`` (see the module).

    All or nothing by default: every row is made in one transaction, rolled back if any row
    fails. ``per_row``: each batch of ``batch_size`` rows commits on its own and a bad row is
    only left out (its errors reported). ``dry_run``: each batch is rolled back. ``start``
    skips that many data rows (done by an earlier, interrupted run of a per-row import).
    ``on_batch`` is called inside the transaction that commits the batch's rows (all or
    nothing: the one transaction; per row: the batch's), so what it writes commits with them;
    in a dry run, after the batch was rolled back.
    """
    result = ImportResult(dry_run=dry_run)
    parsed = read_import_file(data, max_rows=max_rows)
    result.rows = len(parsed.rows)
    result.errors = parsed.errors
    if result.errors:
        return result
    rows = parsed.rows[start:]
    size = batch_size or len(rows) or 1
    seen: dict[tuple[Any, str], int] = {}
    reason = reason or "imported from CSV"

    def run_batch(done: int) -> tuple[list[Link], list[RowError]]:
        links: list[Link] = []
        errors: list[RowError] = []
        for number, raw in rows[done : done + size]:
            link, row_errors = _import_row(
                number,
                raw,
                layout=parsed.layout,
                account=account,
                domain=domain,
                user=user,
                reason=reason,
                seen=seen,
            )
            if link is not None:
                links.append(link)
            errors += row_errors
        return links, errors

    def record(done: int, links: list[Link], errors: list[RowError]) -> None:
        result.links += links
        result.errors += errors
        if on_batch is not None:
            on_batch(start + min(done + size, len(rows)), links, errors)

    if per_row or dry_run:
        for done in range(0, len(rows), size):
            with transaction.atomic():
                links, errors = run_batch(done)
                if dry_run:
                    transaction.set_rollback(True)  # a dry run writes nothing
                else:
                    record(done, links, errors)
            if dry_run:
                record(done, [], errors)
        if dry_run:
            result.links = []
        return result
    with transaction.atomic():
        for done in range(0, len(rows), size):
            record(done, *run_batch(done))
        if result.errors:
            transaction.set_rollback(True)  # nothing half-imported
    if result.errors:
        result.links = []
    return result
