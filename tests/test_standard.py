"""The Meltano SDK's standard tap tests, run against the local HappyTalk server over HTTP."""

from __future__ import annotations

import datetime as dt

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from local_happytalk.chats import sample_rooms
from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.tap import TapHappyTalk

from .conftest import catalog_selecting

FIRST_DAY = dt.date(2024, 5, 1)
# The SDK builds the test class at import time, so the server must already be listening.
SERVER = LocalHappyTalk(
    sample_events(FIRST_DAY, 5, 8), rooms=sample_rooms(FIRST_DAY, 5, 3, 4)
).start()
CONFIG = {
    "token": SERVER.token,
    "start_date": "2024-05-01",
    "end_date": "2024-05-06",
    "api_url": SERVER.url,
}


TestTapHappyTalk = get_tap_test_class(
    tap_class=TapHappyTalk,
    config=CONFIG,
    catalog=catalog_selecting(["service_history", "chat_rooms", "chat_messages"]),
    suite_config=SuiteConfig(max_records_limit=None),
)
