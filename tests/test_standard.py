"""The Meltano SDK's standard tap tests, run against the local HappyTalk server over HTTP."""

from __future__ import annotations

import datetime as dt

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from local_happytalk.server import LocalHappyTalk, sample_events
from tap_happytalk.tap import TapHappyTalk

# The SDK builds the test class at import time, so the server must already be listening.
SERVER = LocalHappyTalk(sample_events(dt.date(2024, 5, 1), 5, 8)).start()

TestTapHappyTalk = get_tap_test_class(
    tap_class=TapHappyTalk,
    config={
        "token": SERVER.token,
        "start_date": "2024-05-01",
        "end_date": "2024-05-06",
        "api_url": SERVER.url,
    },
    suite_config=SuiteConfig(max_records_limit=None),
)
