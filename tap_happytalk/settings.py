"""The tap's settings in their parsed, checked form, as a sync runs with them."""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from tap_happytalk.config_schema import (
    CONFIG_SCHEMA,
    DEFAULT_CEILING,
    DEFAULT_FIXED_IN_FLIGHT,
    NO_MAP,
)
from tap_happytalk.endpoints import CUSTOMER, ENDPOINTS, Api
from tap_happytalk.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ENV_PREFIX = "TAP_HAPPYTALK_"
# The tap's own settings, named before the SDK appends its own to the schema in place.
OWN_SETTINGS = tuple(CONFIG_SCHEMA["properties"])
# Names people write for a zone, which are no IANA zone: what to write instead.
ZONE_ABBREVIATIONS = {
    "KST": "Asia/Seoul",
    "JST": "Asia/Tokyo",
    "HKT": "Asia/Hong_Kong",
    "SGT": "Asia/Singapore",
    "ICT": "Asia/Bangkok",
    "PHT": "Asia/Manila",
    "WIB": "Asia/Jakarta",
    "IST": "Asia/Kolkata (India) or Europe/Dublin (Ireland)",
    "CST": "Asia/Shanghai (China) or America/Chicago (US Central)",
    "CDT": "America/Chicago",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "EDT": "America/New_York",
    "MDT": "America/Denver",
    "BST": "Europe/London",
    "CEST": "Europe/Berlin",
    "MSK": "Europe/Moscow",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
}
# Host names meant for this machine, which a typo of makes the https rule apply.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "ip6-localhost")


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
    endpoint: Api
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
    closed_room_grace: dt.timedelta
    set_aside: dt.timedelta
    window_hours: int
    max_concurrent_requests: int
    adaptive_concurrency: bool
    max_requests_per_minute: int | None
    max_retries: int
    request_timeout_seconds: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Check the settings beyond what JSON Schema can say, naming the setting at fault.

        Raises:
            ConfigError: A setting is missing or unusable.
        """
        _check_empty_and_types(config)
        token = config.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError("token", "is required")
        if token != token.strip():
            raise ConfigError(
                "token",
                "starts or ends with a space or line break, which no HappyTalk token has "
                "(copied along with it?); remove it",
            )
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

        zone = _zone(config.get("timezone") or CONFIG_SCHEMA["properties"]["timezone"]["default"])

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
        adaptive = config.get("adaptive_concurrency") is not False
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
            closed_room_grace=dt.timedelta(
                minutes=_required_int(config, "closed_room_grace_minutes")
            ),
            set_aside=dt.timedelta(days=_required_int(config, "set_aside_days")),
            window_hours=_required_int(config, "window_size_hours"),
            max_concurrent_requests=_max_concurrent_requests(config, adaptive=adaptive),
            adaptive_concurrency=adaptive,
            max_requests_per_minute=_int_setting(config, "max_requests_per_minute"),
            max_retries=_required_int(config, "max_retries"),
            request_timeout_seconds=_required_int(config, "request_timeout_seconds"),
        )


def unknown_settings(config: Mapping[str, Any], known: Iterable[str]) -> dict[str, str | None]:
    """Each key of `config` that is no setting, with the known setting closest to it (or None).

    Keys starting with `_` are left alone: they are an orchestrator's, not settings.
    """
    names = sorted(known)
    return {
        key: next(iter(difflib.get_close_matches(key, names, n=1, cutoff=0.6)), None)
        for key in config
        if key not in names and not key.startswith("_")
    }


def _check_empty_and_types(config: Mapping[str, Any]) -> None:
    """Each of the tap's own settings is empty-free and of its type, said in plain words."""
    for name in OWN_SETTINGS:
        spec = CONFIG_SCHEMA["properties"][name]
        value = config.get(name)
        if value is None:
            continue
        types = spec.get("type", [])
        if value == "" and "string" in types:
            variable = ENV_PREFIX + name.upper()
            raise ConfigError(
                name,
                f"is empty; leave it out to use its default (from the environment: unset "
                f"{variable} rather than setting it to nothing, e.g. `unset {variable}`)",
            )
        if "string" in types and not isinstance(value, str):
            shown = "" if spec.get("secret") else f", got {value!r}"
            raise ConfigError(name, f"must be text{shown}")
        if "boolean" in types and not isinstance(value, bool):
            raise ConfigError(name, f"must be true or false, got {value!r}")


def _zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; for an abbreviation or a near miss, say which zone to write."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    problem = f"'{name}' is not an IANA time zone name"
    suggestion = ZONE_ABBREVIATIONS.get(name.strip().upper())
    if suggestion is None and name.strip().upper().startswith(
        ("UTC+", "UTC-", "GMT+", "GMT-", "+")
    ):
        suggestion = "the zone whose clock you mean, e.g. Asia/Seoul for +09:00"
    if suggestion is None:
        zones = sorted(available_timezones())
        by_city = {zone.rsplit("/", 1)[-1].lower(): zone for zone in zones if "/" in zone}
        close = difflib.get_close_matches(name, zones, n=1, cutoff=0.8)
        suggestion = by_city.get(name.strip().lower().replace(" ", "_")) or next(iter(close), None)
    if suggestion is not None:
        raise ConfigError("timezone", f"{problem}; write {suggestion}")
    raise ConfigError("timezone", f"{problem}, such as Asia/Seoul (HappyTalk's) or Europe/London")


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
        raise ConfigError(name, f"must be one of {', '.join(spec['enum'])}, got {value!r}")
    return str(value)


def _int_setting(config: Mapping[str, Any], name: str) -> int | None:
    spec = CONFIG_SCHEMA["properties"][name]
    value = config.get(name)
    if value is None:
        default: int | None = spec.get("default")
        return default
    low, high = spec["minimum"], spec["maximum"]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _required_int(config: Mapping[str, Any], name: str) -> int:
    value = _int_setting(config, name)
    if value is None:  # pragma: no cover - every caller's setting has a default
        raise ConfigError(name, "is required")
    return value


def _max_concurrent_requests(config: Mapping[str, Any], *, adaptive: bool) -> int:
    """The ceiling (adaptive) or the fixed number in flight; unset, each mode's own default."""
    value = _int_setting(config, "max_concurrent_requests")
    if value is not None:
        return value
    return DEFAULT_CEILING if adaptive else DEFAULT_FIXED_IN_FLIGHT


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
        meant = difflib.get_close_matches(host, LOOPBACK_NAMES, n=1, cutoff=0.75)
        if meant:
            raise ConfigError(
                "api_url",
                f"'{url}': the host '{host}' looks like a misspelling of {meant[0]}; write "
                f"{meant[0]} for a server on this machine (plain http is allowed only there)",
            )
        raise ConfigError(
            "api_url",
            f"'{url}' would send the token unencrypted; use https, or set "
            "allow_unencrypted_http to true for a trusted network path",
        )
    return url.rstrip("/")
