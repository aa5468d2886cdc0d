"""The tap's settings: their JSON Schema for the SDK, and their parsed, checked form."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import typing as th
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from tap_happytalk.endpoints import CUSTOMER, ENDPOINTS, ENVIRONMENTS, Endpoint
from tap_happytalk.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_LOOKBACK_MINUTES = 7 * 24 * 60
MAX_END_MARGIN_SECONDS = 24 * 60 * 60
MAX_RECHECK_DAYS = 30
NO_MAP = (None, "__NULL__")  # a stream map that removes its stream

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "token",
        th.StringType(min_length=1),
        required=True,
        secret=True,
        title="Token",
        description=(
            "Customer token from the HappyTalk console (Settings > Company information > "
            "System information > TOKEN). Sent only in the request body; never logged."
        ),
    ),
    th.Property(
        "start_date",
        th.StringType(min_length=1),
        required=True,
        title="Start date",
        description=(
            "First instant to extract, inclusive: a date (2024-01-01) or a date-time "
            "(2024-01-01T09:30:00). Without a UTC offset it is read in `timezone`."
        ),
        examples=["2024-01-01", "2024-01-01T00:00:00+09:00"],
    ),
    th.Property(
        "end_date",
        th.StringType(min_length=1),
        title="End date",
        description=(
            "Extract events strictly before this instant (exclusive); parsed like "
            "`start_date`. Default: now."
        ),
    ),
    th.Property(
        "endpoint",
        th.StringType(allowed_values=list(ENDPOINTS)),
        default=CUSTOMER.name,
        title="Endpoint",
        description=(
            "Which HappyTalk service-history API to call: `customer` "
            "(customer.happytalk.io/user/api/service_history/format/json, the documented one) "
            "or `bnd` (bnd.happytalk.io/user/api/service-history, the newer developer-center "
            "one, asked for `format: raw`). Both give the same records."
        ),
    ),
    th.Property(
        "api_environment",
        th.StringType(allowed_values=list(ENVIRONMENTS)),
        default="production",
        title="API environment",
        description=(
            "`production`, or `patch` for HappyTalk's patch environment "
            "(patch-customer.happytalk.io, patch-bnd.happytalk.io)."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType(min_length=1),
        title="API URL",
        description=(
            "Base URL that replaces HappyTalk's host for every call (service history, chosen by "
            "`endpoint` and `api_environment`, and the consultation calls), for a proxy or a "
            "test server; each call's path is appended. Must be https, except on loopback or "
            "with `allow_unencrypted_http`."
        ),
    ),
    th.Property(
        "allow_unencrypted_http",
        th.BooleanType,
        default=False,
        title="Allow unencrypted HTTP",
        description=(
            "Send the token over plain http:// to an `api_url` that is not on this machine. "
            "Only for a trusted network path, such as a proxy that adds TLS; HappyTalk "
            "itself is https."
        ),
    ),
    th.Property(
        "timezone",
        th.StringType(min_length=1),
        default="Asia/Seoul",
        title="Time zone",
        description=(
            "IANA time zone of the API's naive timestamps and of its calendar days. "
            "HappyTalk uses Korea time."
        ),
    ),
    th.Property(
        "lookback_minutes",
        th.IntegerType(minimum=0, maximum=MAX_LOOKBACK_MINUTES),
        default=0,
        title="Lookback (minutes)",
        description=(
            "On incremental runs, start this many minutes before the bookmark, to pick up "
            "late-arriving events. Re-read events are sent again (upsert on `id`)."
        ),
    ),
    th.Property(
        "end_margin_seconds",
        th.IntegerType(minimum=0, maximum=MAX_END_MARGIN_SECONDS),
        default=300,
        title="End margin (seconds)",
        description=(
            "A run reads events only up to this many seconds before now (an `end_date` later "
            "than that waits too), and the next run continues from there: HappyTalk may "
            "record an event a moment after it happened, and a run that had already passed "
            "that second would never see it. 0 reads up to the current second."
        ),
    ),
    th.Property(
        "open_room_recheck_days",
        th.IntegerType(minimum=0, maximum=MAX_RECHECK_DAYS),
        default=7,
        title="Open rooms: recheck for (days)",
        description=(
            "A consultation room still open when a run reads it (waiting, with the chatbot, or "
            "in progress) holds the `chat_rooms` bookmark back, so later runs read it again "
            "until it closes, with its new status, rating and messages; for at most this many "
            "days after it was opened, after which it no longer holds the bookmark. 0 never "
            "reads a room again."
        ),
    ),
    th.Property(
        "window_size_hours",
        th.IntegerType(minimum=1, maximum=24),
        default=24,
        title="Window size (hours)",
        description=(
            "Size of one request's window, 1 to 24 hours. Windows never cross midnight "
            "in `timezone`."
        ),
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType(minimum=1, maximum=16),
        default=4,
        title="Concurrent requests",
        description=(
            "Windows fetched at once, 1 to 16. Records are still emitted in window order."
        ),
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType(minimum=1, maximum=6000),
        title="Requests per minute",
        description=(
            "Cap on requests per minute across all concurrent requests, for HappyTalk plans "
            "that are rate limited. Default: no cap (HappyTalk's 429 answers still slow "
            "the tap down)."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=10),
        default=5,
        title="Retries",
        description=(
            "Retries of a request after HTTP 429, 5xx, a timeout or a broken connection, "
            "with exponential backoff (honouring Retry-After), before the run fails."
        ),
    ),
    th.Property(
        "request_timeout_seconds",
        th.IntegerType(minimum=1, maximum=600),
        default=60,
        title="Request timeout (seconds)",
        description="Seconds to wait for HappyTalk to connect and to answer one request.",
    ),
).to_dict()


def parse_instant(text: str, zone: dt.tzinfo) -> dt.datetime:
    """Parse a date or ISO 8601 date-time; without an offset it is wall-clock time in `zone`.

    Raises:
        ValueError: The text is neither a date nor a date-time.
    """
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Secret:
    """A value that never shows itself in a repr, a str or a log line; `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Hold `value`."""
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        """Masked."""
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        """Equal to a Secret holding the same value."""
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        """Hash of the value, so equal secrets hash alike."""
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """The checked settings a sync runs with; times are timezone-aware."""

    token: Secret
    start: dt.datetime
    end: dt.datetime | None
    endpoint: Endpoint
    api_url: str
    # The chat calls live on the customer host, whichever service-history endpoint is chosen.
    chat_api_url: str
    # A plain-http URL (loopback, or allowed) must not send the token through a proxy that only
    # the environment chose; https keeps honouring HTTPS_PROXY.
    trust_proxy_env: bool
    zone: ZoneInfo
    lookback: dt.timedelta
    end_margin: dt.timedelta
    open_room_recheck: dt.timedelta
    window_hours: int
    max_concurrent_requests: int
    max_requests_per_minute: int | None
    max_retries: int
    request_timeout_seconds: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Check the settings beyond what JSON Schema can say, naming the setting at fault.

        Raises:
            ConfigError: A setting is missing or unusable.
        """
        token = config.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError("token", "is required")
        maps = config.get("stream_maps") or {}
        if isinstance(maps, dict) and "chat_rooms" in maps and maps["chat_rooms"] in NO_MAP:
            raise ConfigError(
                "stream_maps",
                "chat_rooms: null would drop every message too, since messages are read "
                "through their rooms; deselect chat_rooms in the catalog instead",
            )
        if config.get("batch_config"):
            raise ConfigError(
                "batch_config",
                "this tap writes no BATCH messages, because the SDK's BATCH would write STATE "
                "ahead of its data; remove batch_config (records flow as RECORD messages)",
            )

        zone_name = config.get("timezone") or CONFIG_SCHEMA["properties"]["timezone"]["default"]
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("timezone", f"'{zone_name}' is not an IANA time zone") from None

        start = _instant_setting(config, "start_date", zone)
        if start is None:
            raise ConfigError("start_date", "is required")
        end = _instant_setting(config, "end_date", zone)
        if end is not None and end <= start:
            raise ConfigError(
                "end_date",
                f"{config['end_date']} is not after start_date {config['start_date']}",
            )

        endpoint = ENDPOINTS[_choice(config, "endpoint")]
        allow_unencrypted = config.get("allow_unencrypted_http") is True
        environment = _choice(config, "api_environment")
        api_url = _api_url(
            config.get("api_url") or endpoint.base_url(environment),
            allow_unencrypted=allow_unencrypted,
        )
        chat_api_url = _api_url(
            config.get("api_url") or CUSTOMER.base_url(environment),
            allow_unencrypted=allow_unencrypted,
        )
        return cls(
            token=Secret(token),
            start=start,
            end=end,
            endpoint=endpoint,
            api_url=api_url,
            chat_api_url=chat_api_url,
            trust_proxy_env=urlsplit(api_url).scheme == "https" or allow_unencrypted,
            zone=zone,
            lookback=dt.timedelta(minutes=_required_int(config, "lookback_minutes")),
            end_margin=dt.timedelta(seconds=_required_int(config, "end_margin_seconds")),
            open_room_recheck=dt.timedelta(days=_required_int(config, "open_room_recheck_days")),
            window_hours=_required_int(config, "window_size_hours"),
            max_concurrent_requests=_required_int(config, "max_concurrent_requests"),
            max_requests_per_minute=_int_setting(config, "max_requests_per_minute"),
            max_retries=_required_int(config, "max_retries"),
            request_timeout_seconds=_required_int(config, "request_timeout_seconds"),
        )


def _instant_setting(config: Mapping[str, Any], name: str, zone: dt.tzinfo) -> dt.datetime | None:
    value = config.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_instant(str(value), zone)
    except ValueError:
        problem = f"'{value}' is not a date (2024-01-01) or ISO 8601 date-time"
        raise ConfigError(name, problem) from None


# Defaults, bounds and choices are read from CONFIG_SCHEMA, so they are stated only there.


def _choice(config: Mapping[str, Any], name: str) -> str:
    spec = CONFIG_SCHEMA["properties"][name]
    value = config.get(name) or spec["default"]
    if value not in spec["enum"]:
        raise ConfigError(name, f"{value!r} is not one of {', '.join(spec['enum'])}")
    return str(value)


def _int_setting(config: Mapping[str, Any], name: str) -> int | None:
    spec = CONFIG_SCHEMA["properties"][name]
    value = config.get(name)
    if value is None:
        default: int | None = spec.get("default")
        return default
    low, high = spec["minimum"], spec["maximum"]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, f"{value!r} is not a whole number from {low} to {high}")
    return int(value)


def _required_int(config: Mapping[str, Any], name: str) -> int:
    value = _int_setting(config, name)
    if value is None:  # pragma: no cover - every caller's setting has a default
        raise ConfigError(name, "is required")
    return value


def _api_url(url: str, *, allow_unencrypted: bool) -> str:
    """The base URL, if both URL readers agree on its host and it keeps the token safe.

    `requests` (through urllib3) and `urlsplit` read odd URLs differently: with a backslash
    before an `@`, one connects to the host before it while the other sees the host after it.
    A URL the two read alike, without user info, query or fragment, has one meaning.
    """
    if any(char.isspace() or char == "\\" or not char.isprintable() for char in url):
        raise ConfigError("api_url", "must not contain spaces, backslashes or control characters")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError("api_url", "must not carry a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError("api_url", f"'{url}' must not have a query or fragment")
    try:
        connected = parse_url(url)
        port = parts.port
    except (LocationParseError, ValueError):
        raise ConfigError("api_url", f"'{url}' is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if (
        parts.scheme not in {"http", "https"}
        or not host
        or (connected.host or "").strip("[]").lower() != host
        or connected.port != port
    ):
        raise ConfigError("api_url", f"'{url}' is not an http(s) URL with a plain host")
    if parts.scheme == "http" and not _is_loopback(host) and not allow_unencrypted:
        raise ConfigError(
            "api_url",
            f"'{url}' would send the token unencrypted; use https, or set "
            "allow_unencrypted_http to true for a trusted network path",
        )
    return url.rstrip("/")
