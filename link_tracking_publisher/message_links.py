"""Per-message SMS links: issuing the ``/{slug}/{token}`` URL of each message of a send.

A link on a domain with a ``message_keyring`` gives each SMS message its own URL,
``https://go.example.com/ABC1234/2MZK7QX9``: the short URL and at most ten more characters
(:mod:`link_tracking_runtime.messages`), against 78 for ``?sms_msg_id=<uuid>``. The token
carries a sequence number this module issues per link and per message (a
``MessageToken`` keeps which host message id it stands
for), and a MAC under the domain's keyring, so the runtime verifies it without a database read
and nobody can make up another message's token. Ingestion maps the click's ``message_seq``
back to the host's message id: ``message-clicks/``, the webhooks and the ``link_clicked``
signal see the host's id, as with the query-string form.

The trade-off chosen (a sequence the control plane keeps, not a mapping item per message in
the runtime table): issuing costs one row in the control plane's database per message and no
DynamoDB write, a click costs no extra DynamoDB read, and the mapping is never lost to a TTL.
``docs/INTEGRATION.md`` (per-message SMS links) gives the measurements.

Asking again for a message id already issued on the link returns the same URL. The models
call this module (``Link.get_sms_url``), so it reaches them through the link it is given, never
by import.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from link_tracking_runtime.messages import issue_token
from link_tracking_runtime.signing import Keyring

from .conf import app_settings
from .errors import InvalidState
from .keyrings import load_keyring

__all__ = ["MESSAGE_ID_MAX_LENGTH", "SMS_URLS_MAX", "sms_urls"]

#: The most message ids one call issues URLs for (one campaign send's worth; a larger send is
#: issued in parts).
SMS_URLS_MAX = 100_000
#: The longest host message id (``MessageClick.sms_msg_id``'s column).
MESSAGE_ID_MAX_LENGTH = 128
#: Rows read or written per statement (SQLite's bound on variables included).
_BATCH = 900


def _check_ids(message_ids: Sequence[str]) -> list[str]:
    if isinstance(message_ids, str | bytes) or not isinstance(message_ids, Sequence):
        raise ValidationError({"message_ids": "A list of message ids."})
    if not message_ids:
        raise ValidationError({"message_ids": "At least one message id."})
    if len(message_ids) > SMS_URLS_MAX:
        raise ValidationError(
            {
                "message_ids": f"At most {SMS_URLS_MAX} message ids per request; issue a larger "
                "send in parts."
            }
        )
    for position, message_id in enumerate(message_ids):
        if (
            not isinstance(message_id, str)
            or not message_id
            or len(message_id) > MESSAGE_ID_MAX_LENGTH
            or not message_id.isprintable()
        ):
            raise ValidationError(
                {
                    "message_ids": f"Item {position}: a message id is 1 to "
                    f"{MESSAGE_ID_MAX_LENGTH} printable characters."
                }
            )
    return list(message_ids)


def _chunks(values: Sequence[str]) -> list[list[str]]:
    iterator = iter(values)
    return list(iter(lambda: list(islice(iterator, _BATCH)), []))


def _issued(link: Any, message_ids: list[str]) -> dict[str, int]:
    issued: dict[str, int] = {}
    for chunk in _chunks(message_ids):
        issued.update(
            link.message_tokens.model.objects.filter(link=link, sms_msg_id__in=chunk).values_list(
                "sms_msg_id", "sequence"
            )
        )
    return issued


def _sequences(link: Any, message_ids: list[str]) -> dict[str, int]:
    """Each message id's sequence number on ``link``, issuing the ones it does not have yet."""
    distinct = list(dict.fromkeys(message_ids))
    with transaction.atomic():
        # A link that has issued nothing has nothing to look up (a send's first call).
        issued = _issued(link, distinct) if _issued_count(link) else {}
        new = [message_id for message_id in distinct if message_id not in issued]
        if not new:
            return issued
        # The counter's row lock serialises concurrent sends on the link until commit.
        type(link).objects.filter(pk=link.pk).update(
            messages_issued=F("messages_issued") + len(new)
        )
        end = _issued_count(link)
        start = end - len(new)
        rows = [
            link.message_tokens.model(link=link, sequence=start + offset, sms_msg_id=message_id)
            for offset, message_id in enumerate(new)
        ]
        link.message_tokens.model.objects.bulk_create(
            rows, batch_size=_BATCH, ignore_conflicts=True
        )
        mine = link.message_tokens.model.objects.filter(
            link=link, sequence__gte=start, sequence__lt=end
        )
        if mine.count() == len(new):
            issued.update((row.sms_msg_id, row.sequence) for row in rows)
        else:  # a concurrent send issued some of these ids first: theirs are kept
            issued.update(_issued(link, new))
    return issued


def _issued_count(link: Any) -> int:
    return int(
        type(link).objects.filter(pk=link.pk).values_list("messages_issued", flat=True).get()
    )


def sms_urls(link: Any, message_ids: Sequence[str], *, keyring: Keyring | None = None) -> list[str]:
    """The SMS URL of each message id, in order (the same URL for a repeated id).

    On a domain with a ``message_keyring``, per-message links (the keyring is read from
    Secrets Manager once per call unless given); otherwise the query-string form
    (:meth:`~link_tracking_publisher.models.Link.get_query_sms_url`), which needs the link to
    take a typed message id. Raises ``ValidationError`` (field ``message_ids``) for more than
    :data:`SMS_URLS_MAX` ids or an id that is not 1 to 128 printable characters,
    :class:`~.errors.InvalidState` when the keyring is unusable or the link can attribute no
    message, :class:`~.errors.ExternalServiceError` when Secrets Manager cannot be reached.
    """
    ids = _check_ids(message_ids)
    name = link.domain.message_keyring
    if not name:
        if not link.query_message_id:
            raise InvalidState(
                "This link takes no ?sms_msg_id= and its domain has no message keyring: "
                "set the domain's message_keyring, or switch query_message_id on."
            )
        return [link.get_query_sms_url(message_id) for message_id in ids]
    keyring = keyring or load_keyring(name)
    sequences = _sequences(link, ids)
    host, slug = link.domain.domain_name, link.slug_canonical
    base = f"{app_settings.SHORT_URL_SCHEME}://{host}/{link.slug}/"
    return [base + issue_token(keyring, host, slug, sequences[message_id]) for message_id in ids]
