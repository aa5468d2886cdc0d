"""Each consultation stream's state: from which day on it still reads, and its open rooms.

`chat_rooms` and `chat_messages` each keep their own, so that either can be selected, left
out or added later without moving the other (a stream added later backfills from
`start_date`). Both are written by `chat_rooms`, which reads the rooms for both:

    {"replication_key": "reg_date",
     "replication_key_value": "2024-03-08T00:00:00+09:00",
     "open_rooms": [{"id": "...", "reg_date": "2024-03-07T23:10:00+09:00",
                     "closed_at": "2024-03-07T23:40:00+09:00"}]}

`replication_key_value` is the opening time from which rooms are still to be read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_happytalk.settings import parse_instant
from tap_happytalk.streams.open_rooms import OpenRoomSet

if TYPE_CHECKING:
    import datetime as dt

REPLICATION_KEY = "reg_date"
OPEN_ROOMS = "open_rooms"

logger = logging.getLogger(__name__)


@dataclass
class ChatMark:
    """Where one chat stream stands, as its state says and as this run moves it.

    `point`: the instant from which its days are still to be read (rooms by opening time).
    `rooms`: its open-room set. `first_point`: the point when the run began; rooms opened
    from then on are new to the stream and join its set while unsettled.
    """

    stream: str
    point: dt.datetime | None
    rooms: OpenRoomSet
    first_point: dt.datetime | None = field(init=False)

    def __post_init__(self) -> None:
        """Remember where the run began."""
        self.first_point = self.point

    def is_new(self, opened: dt.datetime) -> bool:
        """Whether a room opened then is in a day this stream reads for the first time."""
        return self.first_point is None or opened >= self.first_point

    def to_state(self) -> dict[str, Any]:
        """The stream's state (its `bookmarks` entry)."""
        state: dict[str, Any] = {"replication_key": REPLICATION_KEY}
        if self.point is not None:
            state["replication_key_value"] = self.point.isoformat()
        state["open_rooms"] = self.rooms.to_state()
        return state


def read_mark(stream: str, state: dict[str, Any], zone: dt.tzinfo) -> ChatMark:
    """The mark a stream's state describes; a point that is not a time reads from the start."""
    value = state.get("replication_key_value")
    point = None
    if value and state.get("replication_key") == REPLICATION_KEY:
        try:
            point = parse_instant(str(value), zone)
        except ValueError:
            logger.warning(
                "The state of %s has replication_key_value %r, not a time: it is read from "
                "start_date",
                stream,
                value,
            )
    return ChatMark(stream, point, OpenRoomSet.from_state(state.get(OPEN_ROOMS)))


def upgraded(state: dict[str, Any]) -> dict[str, Any]:
    """The tap's state, with one written by the release before the open-room set carried on.

    That release kept a point for `chat_rooms` alone (and no `open_rooms`), and sent a room's
    messages with the room; the SDK left `chat_messages` an empty state when it was selected,
    none when it was not. So an empty `chat_messages` beside such a `chat_rooms` state means
    the messages came as far as the rooms: they resume from the same point. Without any
    `chat_messages` state they never came, and are read from `start_date`.

    Either way `chat_rooms` gets its `open_rooms` at once: the SDK writes `chat_messages: {}`
    into STATE before the first day is done, and a STATE of this release must never read as
    one of the release before.
    """
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        return state
    rooms, messages = bookmarks.get("chat_rooms"), bookmarks.get("chat_messages")
    if not isinstance(rooms, dict) or OPEN_ROOMS in rooms:
        return state
    carried = dict(bookmarks)
    carried["chat_rooms"] = {**rooms, OPEN_ROOMS: []}
    if messages == {}:
        kept = ("replication_key", "replication_key_value")
        carried["chat_messages"] = {key: rooms[key] for key in kept if key in rooms}
        carried["chat_messages"][OPEN_ROOMS] = []
    return {**state, "bookmarks": carried}
