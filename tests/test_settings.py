"""Settings: where each endpoint lives, how dates are read, what is refused."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from tap_happytalk.config_schema import CONFIG_SCHEMA
from tap_happytalk.errors import ConfigError
from tap_happytalk.settings import Settings, parse_instant

SEOUL = ZoneInfo("Asia/Seoul")
BASE = {"token": "t", "start_date": "2024-01-01"}


@pytest.mark.parametrize(
    ("config", "url"),
    [
        ({}, "https://customer.happytalk.io/user/api/service_history/format/json"),
        (
            {"api_environment": "patch"},
            "https://patch-customer.happytalk.io/user/api/service_history/format/json",
        ),
        ({"endpoint": "bnd"}, "https://bnd.happytalk.io/user/api/service-history"),
        (
            {"endpoint": "bnd", "api_environment": "patch"},
            "https://patch-bnd.happytalk.io/user/api/service-history",
        ),
        (
            {"endpoint": "bnd", "api_url": "https://proxy.example/happytalk/"},
            "https://proxy.example/happytalk/user/api/service-history",
        ),
        (
            {"api_url": "http://127.0.0.1:8080"},
            "http://127.0.0.1:8080/user/api/service_history/format/json",
        ),
    ],
)
def test_endpoint_environment_and_api_url_choose_the_url(config, url):
    settings = Settings.from_config({**BASE, **config})
    assert settings.api_url + settings.endpoint.path == url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", dt.datetime(2024, 1, 1, tzinfo=SEOUL)),
        ("2024-01-01T09:30:00", dt.datetime(2024, 1, 1, 9, 30, tzinfo=SEOUL)),
        ("2024-01-01 09:30:00", dt.datetime(2024, 1, 1, 9, 30, tzinfo=SEOUL)),
        ("2024-01-01T00:00:00Z", dt.datetime(2024, 1, 1, 9, tzinfo=SEOUL)),
        ("2024-01-01T00:00:00+00:00", dt.datetime(2024, 1, 1, 9, tzinfo=SEOUL)),
    ],
)
def test_dates_without_an_offset_are_korea_time(text, expected):
    assert parse_instant(text, SEOUL) == expected


def test_defaults_are_the_ones_the_schema_advertises():
    """`--about`, meltano.yml and the Hub show the schema's defaults; a run must use them."""
    settings = Settings.from_config(BASE)
    defaults = {
        name: spec["default"]
        for name, spec in CONFIG_SCHEMA["properties"].items()
        if "default" in spec
    }
    assert settings.zone == ZoneInfo(defaults["timezone"])
    assert settings.end is None
    assert settings.window_hours == defaults["window_size_hours"]
    assert "max_concurrent_requests" not in defaults  # its default depends on the mode
    assert settings.adaptive_concurrency is defaults["adaptive_concurrency"]
    assert settings.max_retries == defaults["max_retries"]
    assert settings.request_timeout_seconds == defaults["request_timeout_seconds"]
    assert settings.lookback == dt.timedelta(minutes=defaults["lookback_minutes"])
    assert settings.end_margin == dt.timedelta(seconds=defaults["end_margin_seconds"])
    assert settings.endpoint.name == defaults["endpoint"]


@pytest.mark.parametrize(
    ("config", "in_flight"),
    [
        ({}, 64),  # adaptive: a ceiling that is never the limit, the highest allowed
        ({"adaptive_concurrency": False}, 4),  # fixed: the old default, one setting away
        ({"max_concurrent_requests": 12}, 12),
        ({"max_concurrent_requests": 12, "adaptive_concurrency": False}, 12),
        ({"max_concurrent_requests": 64, "adaptive_concurrency": False}, 64),
    ],
)
def test_max_concurrent_requests_unset_is_each_modes_own_default(config, in_flight):
    settings = Settings.from_config({**BASE, **config})
    assert settings.max_concurrent_requests == in_flight
    description = CONFIG_SCHEMA["properties"]["max_concurrent_requests"]["description"]
    assert "Default: 64 with adaptive concurrency, 4 without." in description


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"endpoint": "legacy"}, "endpoint"),
        ({"api_environment": "staging"}, "api_environment"),
        ({"api_url": "http://10.0.0.5"}, "api_url"),
        ({"end_date": "2024-01-01"}, "end_date"),
        ({"max_retries": True}, "max_retries"),
    ],
)
def test_refusals_name_the_setting(config, setting):
    with pytest.raises(ConfigError, match=f"'{setting}'"):
        Settings.from_config({**BASE, **config})


def test_plain_http_elsewhere_needs_the_opt_in_that_names_it():
    with pytest.raises(ConfigError, match="allow_unencrypted_http"):
        Settings.from_config({**BASE, "api_url": "http://proxy.internal:8080"})
    settings = Settings.from_config(
        {**BASE, "api_url": "http://proxy.internal:8080", "allow_unencrypted_http": True}
    )
    assert settings.api_url == "http://proxy.internal:8080"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        # urllib3 would connect to 192.0.2.2 while urlsplit sees localhost.
        ("http://192.0.2.2:8999\\@localhost", "backslashes"),
        ("http://user:hunter2@127.0.0.1:8765", "user name or password"),
        ("http://@127.0.0.1:8765", "user name or password"),
        ("https://customer.happytalk.io/?x=1", "query or fragment"),
        ("https://customer.happytalk.io/#x", "query or fragment"),
        ("https://127.0.0.1:99999", "not a valid URL"),
        ("https://customer.happytalk.io /x", "spaces"),
        ("http://localhost.evil.com", "unencrypted"),
        ("ftp://customer.happytalk.io", "http(s) URL"),
    ],
)
def test_an_api_url_with_two_readings_or_credentials_is_refused(url, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)) as refused:
        Settings.from_config({**BASE, "api_url": url})
    assert "hunter2" not in str(refused.value)


def test_a_plain_http_url_ignores_proxies_from_the_environment_unless_allowed():
    assert Settings.from_config({**BASE, "api_url": "https://x.io"}).trust_proxy_env
    assert not Settings.from_config({**BASE, "api_url": "http://127.0.0.1:8765"}).trust_proxy_env
    allowed = {**BASE, "api_url": "http://proxy.internal:8080", "allow_unencrypted_http": True}
    assert Settings.from_config(allowed).trust_proxy_env
