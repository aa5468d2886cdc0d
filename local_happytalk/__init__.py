"""A HappyTalk-compatible server on 127.0.0.1 for tests, benchmarks and the demo; not shipped.

See `local_happytalk.server` for what it serves, its fail codes (documented and assumed) and
its faults, and `local_happytalk.chats` for the chat calls' rooms and sample data. Run it
alone: `python -m local_happytalk --days 30 --per-day 40 --rooms-per-day 5`.
"""

from local_happytalk.chats import (
    ChatRooms,
    RoomTimes,
    expected_times,
    sample_rooms,
    support_centre_rooms,
)
from local_happytalk.server import Fault, LocalHappyTalk, sample_events

__all__ = [
    "ChatRooms",
    "Fault",
    "LocalHappyTalk",
    "RoomTimes",
    "expected_times",
    "sample_events",
    "sample_rooms",
    "support_centre_rooms",
]
