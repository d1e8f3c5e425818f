"""Signed links: keyrings from Secrets Manager (cached), verified with the contract's scheme.

The signature (``kid``, ``ts``, ``sig``; see :mod:`link_tracking_runtime.signing`) binds the
host, the slug, every other query param and the expiry. What "replayed" means here:

* a signed URL may be opened any number of times *within* its validity: a phone's link
  preview fetches it before the person taps it, and people tap twice. Links that may be used
  once only set ``max_clicks``, which is enforced atomically;
* presented after its expiry (``ts`` in the past) it is a replay and goes to the fallback;
* a ``ts`` further ahead than ``SIGNED_LINK_MAX_LIFETIME_SECONDS`` is refused too, so that
  no signed URL can be replayed indefinitely, even if one was signed by mistake without a
  sensible expiry.

Only names under ``SIGNING_KEYRING_PREFIX`` are ever read (:func:`~link_tracking_runtime.signing.is_keyring_name`,
the control plane's rule too); any other ``signature_key_id`` is ``no_key`` without a read,
as a missing keyring is. Keyrings are cached for ``SIGNING_KEY_CACHE_TTL_SECONDS``; while Secrets Manager fails, the
last keyring read is kept. Concurrent reads of one secret share one call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Final, Literal

from link_tracking_runtime import Keyring, keyring_from_secret_string, verify
from link_tracking_runtime.signing import DEFAULT_KEYRING_PREFIX, EXPIRES_PARAM, is_keyring_name

from .aws import SecretReader
from .cache import TTLCache

__all__ = ["SignatureCheck", "SignatureVerifier"]

logger = logging.getLogger(__name__)

SignatureCheck = Literal[
    "ok", "missing", "malformed", "expired", "unknown_key", "mismatch", "too_long", "no_key"
]
_KEYRING_STALE_SECONDS: Final = 86400.0
_ERROR_RETRY_SECONDS: Final = 5.0


class SignatureVerifier:
    def __init__(
        self,
        secrets: SecretReader,
        *,
        clock: Callable[[], float],
        cache_ttl: float,
        max_lifetime: int,
        timeout: float = 1.0,
        prefix: str = DEFAULT_KEYRING_PREFIX,
    ) -> None:
        self._prefix = prefix
        self._timeout = timeout
        self._secrets = secrets
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._max_lifetime = max_lifetime
        #: ``None`` values remember briefly that a secret could not be read.
        self._keyrings: TTLCache[Keyring | None] = TTLCache(256)
        self._inflight: dict[str, asyncio.Task[Keyring | None]] = {}

    async def check(
        self,
        key_id: str | None,
        host: str,
        slug: str,
        params: Iterable[tuple[str, str]],
        now: float,
    ) -> SignatureCheck:
        """``"ok"`` or why the signature of this request is not acceptable."""
        pairs = list(params)
        if not key_id:
            logger.error("link requires a signature but has no signature_key_id")
            return "no_key"
        if not is_keyring_name(key_id, self._prefix):
            # Never read: no other secret may become a signing key, and the answer is the
            # same "no_key" as for a missing keyring, so it tells nothing of other names.
            logger.error(
                "signature_key_id is not a keyring name under SIGNING_KEYRING_PREFIX",
                extra={"domain": host, "slug": slug, "prefix": self._prefix},
            )
            return "no_key"
        keyring = await self.keyring(key_id)
        if keyring is None:
            return "no_key"
        result = verify(host, slug, pairs, keyring, now)
        if result != "ok":
            return result
        expires = next(v for k, v in pairs if k == EXPIRES_PARAM)
        if int(expires) - now > self._max_lifetime:
            return "too_long"
        return "ok"

    def cached_keyring(self, name: str | None, now: float) -> Keyring | None | Literal[False]:
        """The per-message keyring ``name`` as the cache has it, without waiting: the keyring,
        ``None`` when there is none (no name, a name outside the prefix, a keyring that could
        not be read), ``False`` when it must be read first (:meth:`message_keyring`)."""
        if not name:
            return None
        # Only names that passed is_keyring_name are ever cached (message_keyring).
        entry = self._keyrings.peek(name)
        if entry is not None and now < entry.fresh_until:
            return entry.value
        return False if is_keyring_name(name, self._prefix) else None

    async def message_keyring(self, name: str | None) -> Keyring | None:
        """The keyring that verifies a link's per-message tokens (read and cached like a
        signing keyring); ``None`` when there is none."""
        if not name or not is_keyring_name(name, self._prefix):
            return None
        return await self.keyring(name)

    async def keyring(self, key_id: str) -> Keyring | None:
        now = self._clock()
        entry = self._keyrings.get(key_id, now)
        if entry is not None and entry.is_fresh(now):
            return entry.value
        task = self._inflight.get(key_id)
        if task is None:
            task = asyncio.ensure_future(self._load(key_id))
            self._inflight[key_id] = task
            task.add_done_callback(lambda _: self._inflight.pop(key_id, None))
        return await asyncio.shield(task)

    async def _load(self, key_id: str) -> Keyring | None:
        try:
            secret = await asyncio.wait_for(self._secrets.get_secret_string(key_id), self._timeout)
            keyring = keyring_from_secret_string(secret)
        except Exception as exc:  # Secrets Manager down, secret missing or unparseable
            logger.warning(
                "signing keyring unavailable",
                extra={"secret_id": key_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            now = self._clock()
            entry = self._keyrings.get(key_id, now)
            previous = entry.value if entry is not None else None
            # Keep the last good keyring; either way, do not ask again for a few seconds.
            stale = _KEYRING_STALE_SECONDS if previous is not None else 0.0
            self._keyrings.set(key_id, previous, now, _ERROR_RETRY_SECONDS, stale)
            return previous
        self._keyrings.set(key_id, keyring, self._clock(), self._cache_ttl, _KEYRING_STALE_SECONDS)
        return keyring
