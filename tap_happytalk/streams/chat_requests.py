"""What the chat streams ask HappyTalk, and what comes back: a day's list, a room, a failure.

Two ordered pools in a row, both held to the run's pacer: the days' room lists a few days
ahead, then each listed room, at most `limit` (and the run's allowance) at a time, with an
end-of-day mark after each day's rooms.
A list or a room that keeps failing comes back as a `UnitFailed`, never as an error, so the run
goes on past it; what says nothing about one unit (a refused token) is raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_happytalk.answers import NOT_FOUND, room_data
from tap_happytalk.endpoints import ROOM_DATA
from tap_happytalk.errors import (
    HappyTalkRefusedError,
    HappyTalkResponseError,
    HappyTalkUnavailableError,
)
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.streams.room_list import ListedDay, list_rooms
from tap_happytalk.streams.unit_failures import UnitFailed, unit_failure

if TYPE_CHECKING:
    import threading
    from collections.abc import Generator, Iterator

    from tap_happytalk.errors import TapHappyTalkError
    from tap_happytalk.streams.chat_progress import Day
    from tap_happytalk.transport import HappyTalkClient

# Days whose room lists are fetched ahead of the rooms being read; their requests share the
# run's pacer with the room requests, so this adds no load, only keeps the pool busy.
LISTS_AHEAD = 2
# A room and its messages; None: HappyTalk did not know it (-503); or the failure.
RoomAnswer = tuple[dict[str, Any], list[dict[str, Any]]] | None | UnitFailed


def ask_room(client: HappyTalkClient, room_id: str) -> RoomAnswer:
    """A room and its messages as HappyTalk has them now.

    None if HappyTalk no longer knows it; the failure if it kept failing.
    """
    what = f"room {room_id}"
    try:
        return client.ask(
            ROOM_DATA,
            {"room_id": room_id},
            what,
            kind="room",
            read=lambda body: room_data(body, what, room_id),
        )
    except HappyTalkRefusedError as refused:
        if refused.code == NOT_FOUND:
            return None
        raise
    except HappyTalkUnavailableError as error:
        return _failed(client, error)


def day_requests(
    client: HappyTalkClient, days: list[Day], limit: int, stop: threading.Event
) -> tuple[Generator[Any, None, None], Generator[Any, None, None]]:
    """Every day's room list, then each of its rooms' answer and an end-of-day mark (None).

    Returns:
        The lists' pool and the rooms' pool, to close when done; the second yields
        `((day, listed room or None), answer)` in order.
    """

    def ask_list(day: Day) -> Day:
        try:
            day.listed = list_rooms(client, day.window, day.resume)
        except (HappyTalkUnavailableError, HappyTalkResponseError) as error:
            day.listed = _failed(client, error)
        return day

    lists = map_in_order(ask_list, days, LISTS_AHEAD, stop)

    def rooms_then_day_end() -> Iterator[tuple[Day, dict[str, Any] | None]]:
        for day, _ in lists:
            if isinstance(day.listed, ListedDay):
                for room in day.listed.rooms:
                    yield day, room
            yield day, None

    def ask(item: tuple[Day, dict[str, Any] | None]) -> RoomAnswer:
        room = item[1]
        return None if room is None else ask_room(client, str(room["id"]))

    rooms = map_in_order(ask, rooms_then_day_end(), limit, stop, client.allowed_in_flight)
    return lists, rooms


def _failed(client: HappyTalkClient, error: TapHappyTalkError) -> UnitFailed:
    failed = unit_failure(error, client)
    if failed is None:
        raise error
    return failed
