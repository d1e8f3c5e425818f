"""Issue the SMS URL of each message of a send: message ids in, ``message_id,url`` CSV out."""

from __future__ import annotations

import csv
import sys
import uuid
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...errors import LinkTrackingError
from ...message_links import MESSAGE_ID_MAX_LENGTH, SMS_URLS_MAX, sms_urls
from ...models import Link


class Command(BaseCommand):
    help = (
        "Print the SMS URL of each message id (one per line in --input, or stdin) for a link, as "
        "CSV (message_id,url): per-message links on a domain with a message_keyring, else the "
        f"short URL with ?sms_msg_id=. At most {SMS_URLS_MAX} ids a run; an id issued before "
        "gets the same URL again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("link", help="The link's id (UUID).")
        parser.add_argument(
            "--input", type=Path, help="A file of message ids, one per line (default: stdin)."
        )
        parser.add_argument("--output", type=Path, help="Where to write the CSV (default: stdout).")

    def handle(self, *args: Any, link: str, **options: Any) -> None:
        try:
            found = Link.objects.select_related("domain").get(pk=uuid.UUID(link))
        except (ValueError, Link.DoesNotExist):
            raise CommandError(
                f"No link has the id {link!r} (a UUID, as the API shows it)."
            ) from None
        ids = self._read_ids(options.get("input"))
        try:
            urls = sms_urls(found, ids)
        except ValidationError as exc:
            messages = exc.message_dict.get("message_ids", exc.messages)
            raise CommandError(" ".join(messages)) from None
        except LinkTrackingError as exc:  # an unusable keyring, Secrets Manager unreachable
            raise CommandError(str(exc)) from None
        target = options.get("output")
        if target is None:
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(["message_id", "url"])
            writer.writerows(zip(ids, urls, strict=True))
            return
        try:
            with target.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["message_id", "url"])
                writer.writerows(zip(ids, urls, strict=True))
        except OSError as exc:
            raise CommandError(f"Cannot write {target}: {exc.strerror}.") from None
        self.stdout.write(f"Wrote {len(urls)} SMS URLs of {found} to {target}.")

    def _read_ids(self, path: Path | None) -> list[str]:
        """The message ids, one a line (blank lines skipped), refused past the limit before
        any is checked or issued."""
        try:
            stream = path.open(encoding="utf-8") if path else sys.stdin
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        ids: list[str] = []
        try:
            for number, line in enumerate(stream, 1):
                message_id = line.strip()
                if not message_id:
                    continue
                if len(ids) == SMS_URLS_MAX:
                    raise CommandError(
                        f"More than {SMS_URLS_MAX} message ids: issue a larger send in parts."
                    )
                if len(message_id) > MESSAGE_ID_MAX_LENGTH:
                    raise CommandError(
                        f"Line {number}: a message id is at most {MESSAGE_ID_MAX_LENGTH} "
                        "characters."
                    )
                ids.append(message_id)
        except UnicodeDecodeError:
            raise CommandError(f"{path or 'stdin'} is not UTF-8 text.") from None
        finally:
            if path:
                stream.close()
        if not ids:
            raise CommandError("No message ids: give one per line, in --input or on stdin.")
        return ids
