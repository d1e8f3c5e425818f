"""kombu's filesystem transport (the devsite's embedded Celery broker), with messages written
atomically.

kombu's own ``_put`` creates the message file in the queue folder and then writes it, so a
consumer polling the folder can take the file while it is still empty: its worker dies with
``JSONDecodeError`` ("Unrecoverable error"), and a producer killed between the two steps leaves
an empty file that kills every worker that reads it. Here a message is written to a hidden
temporary file in the same folder (consumers only take ``*.<queue>.msg``) and renamed into
place, which is atomic on one file system; an empty or undecodable file (left by an older
writer) is dropped with a warning instead of stopping the worker.

``devsite.settings`` makes this the transport behind ``filesystem://``.
"""

from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


# kombu's filesystem Channel defines _put and _get with other signatures than its base class
# (AbstractChannel); these keep the filesystem Channel's.
class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".partial-{name}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))  # type: ignore[no-untyped-call]
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> Any:  # type: ignore[override]
        try:
            return super()._get(queue)  # type: ignore[no-untyped-call]
        except ValueError as exc:  # an empty or truncated file: no message in it
            logger.warning("dropped an unreadable message file in queue %s: %s", queue, exc)
            raise Empty() from None


class Transport(filesystem.Transport):
    Channel = Channel
