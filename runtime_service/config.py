"""The runtime's configuration: every setting declared once, as data, read once at start-up.

Each field of the typed :class:`Settings` is declared with the environment variable that sets
it: its default, whether production must set it (:attr:`Setting.required`) and whether its
value is a secret that production injects from Secrets Manager (:attr:`Setting.secret`; the
ECS task definition passes those as ``secrets`` so the process still sees an environment
variable). :data:`SETTINGS`, the list of environment variables the service reads, is derived
from those declarations, so neither side can name a setting the other lacks, and the field's
default is the declaration's development value. ``terraform/`` is checked against
:data:`SETTINGS`, and ``docs/RUNTIME.md`` documents it.

:func:`load_settings` turns an environment into a typed :class:`Settings`. A missing required
setting or a value that does not parse raises :class:`ImproperlyConfigured` naming the
variable, so a bad deployment stops at start-up instead of misbehaving at request time.

With ``ENVIRONMENT=development`` the required settings that are not set take their
``development_default`` (a local NDJSON file instead of Firehose, a fixed dev IP-hash key,
no origin secret), so ``uvicorn runtime_service.asgi:app`` runs locally with no setup.

Outside development (``production`` and ``staging``) a secret cannot be half-set: an empty
entry in a comma-separated secret list (``ORIGIN_VERIFY_SECRET=", "``), the published
development IP-hash key and a key shorter than :data:`PRODUCTION_KEY_MIN_LENGTH` are refused
at start-up, naming the variable (:func:`_check_deployed`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from link_tracking_runtime import DEFAULT_TABLE_NAME
from link_tracking_runtime.signing import DEFAULT_KEYRING_PREFIX, is_keyring_name

from .errors import ImproperlyConfigured

__all__ = [
    "DEVELOPMENT_IP_HASH_KEY",
    "ENVIRONMENTS",
    "PRODUCTION_KEY_MIN_LENGTH",
    "SETTINGS",
    "Setting",
    "Settings",
    "declared_settings",
    "load_settings",
]

ENVIRONMENTS: Final = ("production", "staging", "development")


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable the runtime reads."""

    #: The environment variable's name.
    name: str
    #: What it is for (the text ``docs/RUNTIME.md`` shows).
    description: str
    #: The value used when the variable is unset, as the string the environment would hold;
    #: ``None`` when there is no default (required settings, and optional ones that are off).
    default: str | None = None
    #: Production and staging must set it: there is no safe default.
    required: bool = False
    #: Its value is a secret: production injects it from Secrets Manager, logs never show it.
    secret: bool = False
    #: The value used in ``ENVIRONMENT=development`` when a required setting is unset.
    development_default: str | None = None
    #: The :class:`Settings` attribute it fills (default: the name in lower case).
    attribute: str = ""
    #: Turns the string into the typed value; raises ``ValueError`` with a reason.
    parse: Callable[[str], Any] = str
    #: Other variables read, in order, when ``name`` is unset: the names boto and the AWS CLI
    #: also accept for the same value (``AWS_DEFAULT_REGION`` for ``AWS_REGION``).
    aliases: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        return self.attribute or self.name.lower()


# --- parsers: each raises ValueError with a reason a person can act on -----------------------


def _text(value: str) -> str:
    return value.strip()


def _non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be true or false")


def _int(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"must be {bound}")
        return number

    return parse


def _float(minimum: float, maximum: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number) or not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum:g} and {maximum:g}")
        return number

    return parse


def _absolute_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    if not value.isascii() or not value.isprintable():
        raise ValueError("must be ASCII without spaces or control characters (percent-encode it)")
    return value


def _optional_url(value: str) -> str:
    return _absolute_url(value) if value.strip() else ""


_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


def _optional_region(value: str) -> str:
    value = value.strip()
    if value and not _REGION.fullmatch(value):
        raise ValueError("must be an AWS region name such as eu-west-1, or empty")
    return value


def _environment(value: str) -> str:
    value = value.strip().lower()
    if value not in ENVIRONMENTS:
        raise ValueError(f"must be one of {', '.join(ENVIRONMENTS)}")
    return value


def _log_level(value: str) -> str:
    value = value.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def _header_name(value: str) -> str:
    value = value.strip().lower()
    if not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError("must be an HTTP header name (letters, digits, '-')")
    return value


def _secret_list(value: str) -> tuple[str, ...]:
    """Comma-separated secrets; more than one is accepted while a rotation completes."""
    secrets = tuple(s.strip() for s in value.split(",") if s.strip())
    if any(len(s) < 16 for s in secrets):
        raise ValueError("each secret must be at least 16 characters")
    return secrets


#: The IP-hash key every checkout knows (the development default): refused outside development.
DEVELOPMENT_IP_HASH_KEY: Final = "development-only-ip-hash-key"
#: Outside development, the least length of IP_HASH_KEY and of each ORIGIN_VERIFY_SECRET
#: (Terraform generates 64 characters).
PRODUCTION_KEY_MIN_LENGTH: Final = 32


def _key(value: str) -> bytes:
    if len(value) < 16:
        raise ValueError("must be at least 16 characters")
    return value.encode("utf-8")


def _keyring_prefix(value: str) -> str:
    value = value.strip()
    if not value.endswith("/") or not is_keyring_name(value + "x", ""):
        raise ValueError("must be a Secrets Manager name prefix ending in '/'")
    return value


def _path(value: str) -> Path:
    value = value.strip()
    if not value:
        raise ValueError("must be a file system path")
    return Path(value)


_DECLARATION: Final = "setting"


def _setting(
    name: str,
    description: str,
    *,
    default: str | None = None,
    required: bool = False,
    secret: bool = False,
    development_default: str | None = None,
    parse: Callable[[str], Any] = str,
    aliases: tuple[str, ...] = (),
) -> Any:
    """A :class:`Settings` field declared by the environment variable ``name`` (the arguments
    are :class:`Setting`'s). Its default is what development gives it: the parsed
    ``development_default``, else the parsed ``default``. Secrets are left out of ``repr``."""
    setting = Setting(
        name,
        description,
        default=default,
        required=required,
        secret=secret,
        development_default=development_default,
        parse=parse,
        aliases=aliases,
    )
    raw = development_default if development_default is not None else default
    if raw is None:
        raise TypeError(f"{name}: a setting needs a default or a development default")
    return dataclasses.field(default=parse(raw), repr=not secret, metadata={_DECLARATION: setting})


def declared_settings(cls: type[Any]) -> tuple[Setting, ...]:
    """The :class:`Setting` of every field of the dataclass ``cls``, in field order, each
    with the field's name as its ``attribute``; ``TypeError`` naming a field declared
    without one."""
    declared: list[Setting] = []
    for field in dataclasses.fields(cls):
        setting = field.metadata.get(_DECLARATION)
        if not isinstance(setting, Setting):
            raise TypeError(f"{cls.__name__}.{field.name} is not declared with _setting()")
        declared.append(dataclasses.replace(setting, attribute=field.name))
    return tuple(declared)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """The runtime's typed configuration: each field is declared with the environment variable
    that sets it (:func:`_setting`), in the order of ``docs/RUNTIME.md``; :data:`SETTINGS` is
    derived from these declarations.

    A field's default is the value ``ENVIRONMENT=development`` gives it when its variable is
    unset (``Settings()`` is ``load_settings({"ENVIRONMENT": "development"})``), so tests can
    build one with only the fields they care about; production builds it with
    :func:`load_settings`.
    """

    environment: str = _setting(
        "ENVIRONMENT",
        "production, staging or development. Outside development every required setting "
        "must be set; in development the unset ones take their development default.",
        default="production",
        development_default="development",
        parse=_environment,
    )
    aws_region: str = _setting(
        "AWS_REGION",
        "AWS region of the table, the stream and the secrets; AWS_DEFAULT_REGION, boto's "
        "name for it, is read when AWS_REGION is unset. (AWS_ENDPOINT_URL, the standard "
        "botocore variable, points every client at a local endpoint such as a moto server.)",
        required=True,
        aliases=("AWS_DEFAULT_REGION",),
        development_default="us-east-1",
        parse=_non_empty,
    )
    dynamodb_table_name: str = _setting(
        "DYNAMODB_TABLE_NAME",
        "The runtime table the control plane publishes to (its LINK_RUNTIME_TABLE_NAME).",
        required=True,
        development_default=DEFAULT_TABLE_NAME,
        parse=_non_empty,
    )
    firehose_stream_name: str = _setting(
        "FIREHOSE_STREAM_NAME",
        "Firehose delivery stream for click events. Empty (development only) writes click "
        "events to CLICK_EVENTS_FILE instead.",
        required=True,
        development_default="",
        parse=_text,
    )
    default_fallback_url: str = _setting(
        "DEFAULT_FALLBACK_URL",
        "Where unknown links, invalid slugs and unexpected errors redirect to.",
        required=True,
        development_default="http://localhost:8080/disabled",
        parse=_absolute_url,
    )
    ip_hash_key: bytes = _setting(
        "IP_HASH_KEY",
        "HMAC key for the visitor IP hash in click events (IPs are never stored raw). "
        "Rotating it breaks the continuity of ip_hash and of IP-based A/B stickiness.",
        required=True,
        secret=True,
        development_default=DEVELOPMENT_IP_HASH_KEY,
        parse=_key,
    )
    origin_verify_secret: tuple[str, ...] = _setting(
        "ORIGIN_VERIFY_SECRET",
        "The secret CloudFront adds in ORIGIN_VERIFY_HEADER; requests without it get 403 "
        "(/health is exempt). Comma-separated values are all accepted (rotation). Empty "
        "(development only) turns the check off.",
        required=True,
        secret=True,
        development_default="",
        parse=_secret_list,
    )
    origin_verify_header: str = _setting(
        "ORIGIN_VERIFY_HEADER",
        "Name of the header that carries ORIGIN_VERIFY_SECRET.",
        default="x-origin-verify",
        parse=_header_name,
    )
    trusted_proxy_count: int = _setting(
        "TRUSTED_PROXY_COUNT",
        "How many proxies in front of the service append to X-Forwarded-For (CloudFront and "
        "the ALB: 2). The visitor IP is the entry that many places from the right; 0 uses the "
        "TCP peer address. Required in production: a wrong value hashes and rate-limits the "
        "proxy's address instead of the visitor's. Several X-Forwarded-For lines are joined "
        "in order, as one list.",
        required=True,
        development_default="0",
        parse=_int(0, 10),
    )
    cache_ttl_seconds: float = _setting(
        "CACHE_TTL_SECONDS",
        "How long a record read from DynamoDB is served from the in-process cache (so how long "
        "a republish or unpublish takes to reach every task).",
        default="60",
        parse=_float(0.0, 86400.0),
    )
    cache_negative_ttl_seconds: float = _setting(
        "CACHE_NEGATIVE_TTL_SECONDS",
        "How long 'no such link' is cached.",
        default="10",
        parse=_float(0.0, 3600.0),
    )
    cache_stale_seconds: float = _setting(
        "CACHE_STALE_SECONDS",
        "How long past its TTL the last good record is still served while DynamoDB errors.",
        default="3600",
        parse=_float(0.0, 7 * 86400.0),
    )
    cache_max_size: int = _setting(
        "CACHE_MAX_SIZE",
        "Most records held in the cache (least recently used are evicted).",
        default="10000",
        parse=_int(1),
    )
    dynamodb_timeout_seconds: float = _setting(
        "DYNAMODB_TIMEOUT_SECONDS",
        "Deadline of one DynamoDB (or Secrets Manager) read on the request path, retry "
        "included: past it, the last good record or the fallback is used.",
        default="0.5",
        parse=_float(0.05, 30.0),
    )
    dynamodb_fallback_region: str = _setting(
        "DYNAMODB_FALLBACK_REGION",
        "Region of the table's other replica (a two-region deployment sets it: the global "
        "table's second region). When a read from AWS_REGION's replica fails or misses "
        "DYNAMODB_TIMEOUT_SECONDS, the same key is read from this region's replica, under its "
        "own deadline; when both fail, a link with no last good record is answered 503 so "
        "that CloudFront's origin group retries the other region. Empty: one region (a "
        "failed read redirects to DEFAULT_FALLBACK_URL). Must differ from AWS_REGION.",
        default="",
        parse=_optional_region,
    )
    dynamodb_fallback_endpoint_url: str = _setting(
        "DYNAMODB_FALLBACK_ENDPOINT_URL",
        "Endpoint of the fallback region's DynamoDB. Empty: botocore resolves it for "
        "DYNAMODB_FALLBACK_REGION as for any client (AWS_ENDPOINT_URL_DYNAMODB and "
        "AWS_ENDPOINT_URL included, so locally both regions would reach one moto server: set "
        "it to the second region's moto server).",
        default="",
        parse=_optional_url,
    )
    signing_key_cache_ttl_seconds: float = _setting(
        "SIGNING_KEY_CACHE_TTL_SECONDS",
        "How long a signing keyring read from Secrets Manager is cached.",
        default="300",
        parse=_float(0.0, 86400.0),
    )
    signing_keyring_prefix: str = _setting(
        "SIGNING_KEYRING_PREFIX",
        "Secrets Manager name prefix of the signing keyrings (Terraform's signing_secret_prefix, "
        "the control plane's SIGNING_KEYRING_PREFIX). A record whose signature_key_id is not a "
        "name under it is refused as having no key, without reading Secrets Manager.",
        default=DEFAULT_KEYRING_PREFIX,
        parse=_keyring_prefix,
    )
    signed_link_max_lifetime_seconds: int = _setting(
        "SIGNED_LINK_MAX_LIFETIME_SECONDS",
        "A signed link whose expiry (ts) lies further ahead than this is refused as a "
        "replayable link; the default is 400 days.",
        default=str(400 * 86400),
        parse=_int(60),
    )
    rate_limit_per_minute: int = _setting(
        "RATE_LIMIT_PER_MINUTE",
        "Sustained requests per minute allowed from one visitor IP (IPv4 address, or IPv6 /64); "
        "0 turns the limit off. "
        "Mobile carriers put many phones behind one IP, so keep it generous.",
        default="600",
        parse=_int(0),
    )
    rate_limit_burst: int = _setting(
        "RATE_LIMIT_BURST",
        "Requests one IP may make at once (the bucket size); after that, the sustained rate.",
        default="120",
        parse=_int(1),
    )
    click_events_file: Path = _setting(
        "CLICK_EVENTS_FILE",
        "NDJSON file click events are appended to when FIREHOSE_STREAM_NAME is empty.",
        default="var/click-events.ndjson",
        parse=_path,
    )
    event_journal_dir: Path = _setting(
        "EVENT_JOURNAL_DIR",
        "Directory where click events that Firehose did not take are journaled (NDJSON) and "
        "replayed from. Mount durable storage here to keep them across task replacement.",
        default="var/event-journal",
        parse=_path,
    )
    event_flush_interval_seconds: float = _setting(
        "EVENT_FLUSH_INTERVAL_SECONDS",
        "Longest time a click event waits in memory before it is sent.",
        default="1.0",
        parse=_float(0.01, 60.0),
    )
    event_buffer_max: int = _setting(
        "EVENT_BUFFER_MAX",
        "Most click events held in memory; beyond it they go to the journal.",
        default="100000",
        parse=_int(1000),
    )
    firehose_max_attempts: int = _setting(
        "FIREHOSE_MAX_ATTEMPTS",
        "PutRecordBatch attempts for one batch (failed records only are resent, with backoff) "
        "before its remaining records are journaled.",
        default="4",
        parse=_int(1, 20),
    )
    firehose_max_in_flight: int = _setting(
        "FIREHOSE_MAX_IN_FLIGHT",
        "Most PutRecordBatch calls a process has in flight at once (each up to 500 records): "
        "a process delivers up to this many batches per Firehose response time.",
        default="8",
        parse=_int(1, 64),
    )
    firehose_timeout_seconds: float = _setting(
        "FIREHOSE_TIMEOUT_SECONDS",
        "Connect and read timeout of one PutRecordBatch call.",
        default="5.0",
        parse=_float(0.1, 60.0),
    )
    shutdown_flush_seconds: float = _setting(
        "SHUTDOWN_FLUSH_SECONDS",
        "At shutdown, how long to keep sending buffered events before journaling the rest "
        "(keep it below the ECS stop timeout and the gunicorn graceful timeout).",
        default="10",
        parse=_float(0.0, 120.0),
    )
    metrics_namespace: str = _setting(
        "METRICS_NAMESPACE",
        "CloudWatch namespace of the Embedded Metric Format log lines.",
        default="LinkRuntime",
        parse=_non_empty,
    )
    metrics_interval_seconds: float = _setting(
        "METRICS_INTERVAL_SECONDS",
        "How often aggregated metrics are written as one EMF log line.",
        default="60",
        parse=_float(1.0, 3600.0),
    )
    log_level: str = _setting(
        "LOG_LEVEL",
        "Level of the structured JSON logs.",
        default="INFO",
        parse=_log_level,
    )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def public(self) -> dict[str, Any]:
        """The settings as a dict for the start-up log line, secrets masked."""
        shown: dict[str, Any] = {}
        for setting in SETTINGS:
            value = getattr(self, setting.field)
            if setting.secret:
                value = "<set>" if value else "<unset>"
            shown[setting.name] = str(value) if isinstance(value, Path) else value
        return shown


#: Every environment variable the runtime reads, in the order of ``docs/RUNTIME.md``: the
#: declarations of :class:`Settings`'s fields.
SETTINGS: Final[tuple[Setting, ...]] = declared_settings(Settings)


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read every setting of :data:`SETTINGS` from ``environ`` (normally ``os.environ``).

    Raises :class:`ImproperlyConfigured` naming the first variable that is missing (outside
    development) or that does not parse.
    """
    values: dict[str, Any] = {}
    env_setting = SETTINGS[0]
    raw_environment = environ.get(env_setting.name) or env_setting.default or "production"
    try:
        environment = _environment(raw_environment)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{env_setting.name}={raw_environment!r}: {exc}") from None
    development = environment == "development"
    for setting in SETTINGS:
        raw = _read(environ, setting)
        if raw is None or (setting.required and raw.strip() == ""):
            if setting.required and not development:
                names = " or ".join((setting.name, *setting.aliases))
                raise ImproperlyConfigured(
                    f"{names} is required (ENVIRONMENT={environment}): {setting.description}"
                )
            raw = setting.development_default if setting.required else setting.default
        if raw is None:
            continue
        try:
            if not development:
                _check_deployed(setting.name, raw)
            values[setting.field] = setting.parse(raw)
        except ValueError as exc:
            shown = "<secret>" if setting.secret else repr(raw)
            raise ImproperlyConfigured(f"{setting.name}={shown}: {exc}") from None
    settings = Settings(**values)
    _check_combination(settings)
    return settings


def _check_combination(settings: Settings) -> None:
    """Refuse settings that parse one by one but contradict each other."""
    fallback = settings.dynamodb_fallback_region
    if fallback and fallback == settings.aws_region:
        raise ImproperlyConfigured(
            f"DYNAMODB_FALLBACK_REGION={fallback!r}: is AWS_REGION itself; name the region "
            "of the table's other replica, or leave it empty for one region"
        )
    if settings.dynamodb_fallback_endpoint_url and not fallback:
        raise ImproperlyConfigured(
            "DYNAMODB_FALLBACK_ENDPOINT_URL is set but DYNAMODB_FALLBACK_REGION is not: "
            "name the fallback region too"
        )


def _read(environ: Mapping[str, str], setting: Setting) -> str | None:
    """The value of ``setting``'s variable, else of its first alias that is set."""
    for name in (setting.name, *setting.aliases):
        raw = environ.get(name)
        if raw is not None and raw.strip():
            return raw
    return environ.get(setting.name)


def _check_deployed(name: str, raw: str) -> None:
    """Refuse, outside development, a secret that is only half-set (ValueError says why)."""
    if name == "ORIGIN_VERIFY_SECRET":
        entries = raw.split(",")
        if any(not entry.strip() for entry in entries):
            raise ValueError(
                "an entry of the comma-separated list is empty (a stray comma?); every entry "
                "must be a secret, or the origin check would be weakened or off"
            )
        if any(len(entry.strip()) < PRODUCTION_KEY_MIN_LENGTH for entry in entries):
            raise ValueError(
                f"each secret must be at least {PRODUCTION_KEY_MIN_LENGTH} characters "
                "outside development"
            )
    elif name == "IP_HASH_KEY":
        if raw.strip() == DEVELOPMENT_IP_HASH_KEY:
            raise ValueError(
                "is the published development key, which would make IP hashes reversible; "
                "set a random secret"
            )
        if len(raw) < PRODUCTION_KEY_MIN_LENGTH:
            raise ValueError(
                f"must be at least {PRODUCTION_KEY_MIN_LENGTH} characters outside development"
            )
