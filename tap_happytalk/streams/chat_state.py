"""Each consultation stream's state: its progress (`tap_happytalk.progress`), as a state.

`chat_rooms` and `chat_messages` each keep their own, so that either can be selected, left
out or added later without moving the other (a stream added later backfills from
`start_date`). Both are written by `chat_rooms`, which reads the rooms for both:

    {"replication_key": "reg_date",
     "replication_key_value": "2024-03-08T00:00:00+09:00",
     "ask_again": [{"unit": "room", "id": "...", "reg_date": "2024-03-07T23:10:00+09:00",
                    "why": "open", "since": "...", "tries": 2,
                    "closed_at": "2024-03-07T23:40:00+09:00"},
                   {"unit": "window", "start": "2024-03-05T00:00:00+09:00",
                    "end": "2024-03-06T00:00:00+09:00", "why": "failed", ...}],
     "given_up": {"open": 3}}

`replication_key_value` is the opening time from which rooms are still to be read; a window
unit is a day whose room list is to be asked again, a room unit a room to read again by id.

When the point lies inside a day (an hourly run stopped there), the state also says where it
stood in that day's room list, so that the next run reads the list on from there
(`tap_happytalk.streams.room_list`):

     "point_in_list": {"point": "2024-03-08T14:55:00+09:00", "rooms_before": 1612,
                       "last_rooms": [{"id": "...", "reg_date": "2024-03-08T14:54:31+09:00"},
                                      ...]}

`rooms_before`: how many rooms of the day opened before the point; `last_rooms`: the last few
of them, oldest first. A state without it (written before it existed, or for a point at
midnight) has the day listed whole, in two passes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from tap_happytalk.progress import ASK_AGAIN, LEGACY_OPEN_ROOMS, Progress, instant
from tap_happytalk.settings import parse_instant
from tap_happytalk.streams.room_list import PointInList
from tap_happytalk.windows import API_FORMAT, to_instant, to_wall_clock

REPLICATION_KEY = "reg_date"
POINT_IN_LIST = "point_in_list"

logger = logging.getLogger(__name__)


@dataclass
class ChatMark:
    """Where one chat stream stands, as its state says and as this run moves it.

    `progress`: its point (the instant from which its days are still to be read, by opening
    time) and units. `first_point`: the point when the run began; rooms opened from then on
    are new to the stream and join its progress while unsettled.
    """

    stream: str
    progress: Progress
    zone: dt.tzinfo
    # Where the point stands in its day's room list, when it lies inside a day.
    point_in_list: PointInList | None = None
    first_point: dt.datetime | None = field(init=False)

    def __post_init__(self) -> None:
        """Remember where the run began."""
        self.first_point = self.progress.point

    @property
    def point(self) -> dt.datetime | None:
        """The instant from which the stream's days are still to be read."""
        return self.progress.point

    def is_new(self, opened: dt.datetime) -> bool:
        """Whether a room opened then is in a day this stream reads for the first time."""
        return self.first_point is None or opened >= self.first_point

    def to_state(self) -> dict[str, Any]:
        """The stream's state (its `bookmarks` entry)."""
        state: dict[str, Any] = {"replication_key": REPLICATION_KEY}
        if self.point is not None:
            state["replication_key_value"] = self.point.isoformat()
        state |= self.progress.to_state()
        where = self.point_in_list
        if where is not None and self.point is not None and self._aware(where.point) == self.point:
            state[POINT_IN_LIST] = {
                "point": self.point.isoformat(),
                "rooms_before": where.rooms_before,
                "last_rooms": [
                    {"id": ident, "reg_date": self._aware(opened).isoformat()}
                    for opened, ident in where.last
                ],
            }
        return state

    def _aware(self, wall_clock: str) -> dt.datetime:
        return to_instant(datetime_of(wall_clock), self.zone)


def read_mark(stream: str, state: dict[str, Any], zone: dt.tzinfo, now: dt.datetime) -> ChatMark:
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
    progress = Progress.from_state(state, point, now)
    return ChatMark(stream, progress, zone, read_point_in_list(state, point, zone))


def read_point_in_list(
    state: dict[str, Any], point: dt.datetime | None, zone: dt.tzinfo
) -> PointInList | None:
    """Where the state says its point stands in the day's list, or None: the day is listed whole.

    None also for an entry that does not fit: for another point, a count its rooms do not fit,
    rooms not before the point.
    """
    entry = state.get(POINT_IN_LIST)
    if point is None or not isinstance(entry, dict) or instant(entry.get("point")) != point:
        return None
    before, rooms = entry.get("rooms_before"), entry.get("last_rooms")
    if type(before) is not int or before < 0 or not isinstance(rooms, list):
        return None
    last: list[tuple[str, str]] = []
    for room in rooms:
        opened = instant(room.get("reg_date")) if isinstance(room, dict) else None
        ident = room.get("id") if isinstance(room, dict) else None
        if opened is None or not isinstance(ident, str) or not ident or opened >= point:
            return None
        last.append((to_wall_clock(opened, zone).strftime(API_FORMAT), ident))
    if len(last) > before or (before and not last) or last != sorted(last, key=lambda r: r[0]):
        return None
    return PointInList(to_wall_clock(point, zone).strftime(API_FORMAT), before, tuple(last))


def datetime_of(wall_clock: str) -> dt.datetime:
    """HappyTalk's `Y-m-d H:i:s`, naive."""
    return dt.datetime.strptime(wall_clock, API_FORMAT)  # noqa: DTZ007 - naive wall clock


def upgraded(state: dict[str, Any]) -> dict[str, Any]:
    """The tap's state, with one written by an earlier version carried on.

    At e8bc330 (before the open-room set) the tap kept a point for `chat_rooms` alone (no
    `open_rooms`), and sent a room's messages with the room; the SDK left `chat_messages` an
    empty state when it was selected, none when it was not. So an empty `chat_messages` beside
    such a `chat_rooms` state means the messages came as far as that point: they resume from
    it. Without any `chat_messages` state they never came, and are read from `start_date`.
    That version moved the point of `chat_rooms` also when `chat_messages` was selected alone,
    sending no room: the state cannot tell that run from one with both selected, so with an
    empty `chat_messages`, `chat_rooms` is read again from `start_date`, once (rooms are sent
    again, never lost).

    At 499911a the tap kept `open_rooms` per chat stream (read as units `open` or `missing` by
    `Progress.from_state`), and left `chat_rooms: {}` when `chat_messages` ran alone, which
    reads from `start_date` as it should.

    Either way `chat_rooms` gets its `ask_again` at once: the SDK writes `chat_messages: {}`
    into STATE before the first day is done, and a STATE of this version must never read as
    one of e8bc330.
    """
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        return state
    rooms, messages = bookmarks.get("chat_rooms"), bookmarks.get("chat_messages")
    if not isinstance(rooms, dict) or ASK_AGAIN in rooms or LEGACY_OPEN_ROOMS in rooms:
        return state
    carried = dict(bookmarks)
    carried["chat_rooms"] = {**rooms, ASK_AGAIN: []}
    if messages == {}:
        kept = ("replication_key", "replication_key_value")
        carried["chat_messages"] = {key: rooms[key] for key in kept if key in rooms}
        carried["chat_messages"][ASK_AGAIN] = []
        if "replication_key_value" in rooms:
            carried["chat_rooms"] = {"replication_key": REPLICATION_KEY, ASK_AGAIN: []}
            logger.warning(
                "The state is one written at e8bc330 (before the open-room set), which moved "
                "chat_rooms' point also when "
                "chat_messages ran alone and no room was sent: chat_rooms is read again from "
                "start_date this once (rooms already sent come again; chat_messages resumes "
                "from %s)",
                rooms["replication_key_value"],
            )
    return {**state, "bookmarks": carried}
