"""The Meltano SDK's standard tap tests, run against the local HappyTalk server over HTTP.

The SDK builds the test class at import, from a tap it makes with the config given: that tap
only names the streams and their properties, so it gets a placeholder address. The server
starts with the first test that needs it (the `runner` below), never at import: collecting
the suite starts nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from singer_sdk.testing import SuiteConfig, TapTestRunner, get_tap_test_class

from local_happytalk.chats import sample_rooms
from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.tap import TapHappyTalk

from .conftest import catalog_selecting

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.timeout(300)

FIRST_DAY = dt.date(2024, 5, 1)
SUITE = SuiteConfig(max_records_limit=None)
CATALOG = catalog_selecting(["service_history", "chat_rooms", "chat_messages"])


def config_for(api_url: str, token: str) -> dict[str, Any]:
    return {
        "token": token,
        "start_date": "2024-05-01",
        "end_date": "2024-05-06",
        "api_url": api_url,
    }


# Nothing listens on port 9 (discard): a request to it would fail at once, not wait.
PLACEHOLDER = config_for("http://127.0.0.1:9", "placeholder")


@pytest.fixture(scope="module")
def standard_server() -> Iterator[LocalHappyTalk]:
    rooms = sample_rooms(FIRST_DAY, 5, 3, 4)
    events = sample_events(FIRST_DAY, 5, 8)
    # A field no schema describes in each stream, as HappyTalk adds them: `extra_fields` holds it.
    events[0]["source_ip"] = "203.0.113.7"
    rooms[0]["chat"]["priority"] = "high"
    rooms[0]["message"][0]["template_version"] = "2"
    with LocalHappyTalk(events, rooms=rooms) as server:
        yield server


class TestTapHappyTalk(
    get_tap_test_class(  # type: ignore[misc] # the SDK makes the class at run time
        tap_class=TapHappyTalk,
        config=PLACEHOLDER,
        catalog=CATALOG,
        suite_config=SUITE,
    )
):
    """The SDK's tap, stream and attribute tests, with a runner pointed at the live server."""

    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, standard_server: LocalHappyTalk) -> TapTestRunner:
        """The SDK's runner (it would sync the placeholder config), synced once per class."""
        runner = TapTestRunner(
            tap_class=TapHappyTalk,
            config=config_for(standard_server.url, standard_server.token),
            suite_config=SUITE,
            catalog=CATALOG,
            parse_env_config=True,
        )
        runner.sync_all()
        return runner
