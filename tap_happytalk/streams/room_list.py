"""Paging a day's room list exactly, while rooms join and leave it.

HappyTalk lists a day's rooms in pages of at most 50, by offset (`page`), here sorted by
opening time, oldest first. A room that leaves the list while the tap pages it shifts every
later room back by one, so the room at the next page's boundary slips onto a page already
read and is never seen; a room that joins shifts them forward, and one is seen twice. Neither
shows in `total_count` when a room joins at the same time as another leaves.

So a day is paged again until two passes in a row list the same rooms on the same pages, and
the later one lists no room twice (a single-page pass is one answer, a snapshot, and needs no
second). A room hidden from a pass by a leave slips back onto a page the next pass reads; the
two passes can only agree if no room left between them, and then the later one missed nothing
that was there throughout. A room listed twice in a pass shows a room that joined before the
tap's place in the list: one that joined and left again within a pass could mask a leave, so
such a pass is never the last. What is not covered: the same room leaving and joining again.
Rooms opened after the window asked for (today's newest, while the tap pages) are left out of
the comparison: the list is in opening order, so they join at its end and shift nothing
before them. Every room seen in any pass is kept, even one that left the list later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tap_happytalk.answers import room_list_page
from tap_happytalk.endpoints import ROOM_LIST
from tap_happytalk.errors import HappyTalkResponseError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_happytalk.answers import RoomListPage
    from tap_happytalk.transport import HappyTalkClient
    from tap_happytalk.windows import DayWindow

PAGE_SIZE = 50  # HappyTalk's largest page
MAX_PASSES = 5  # passes of one day while its list keeps changing, before the run gives up
MAX_PAGES = 10_000  # 500,000 rooms in a day: past that, the list is taken to be endless

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListedDay:
    """The rooms HappyTalk listed for one window, oldest first, and what it listed amiss."""

    rooms: list[dict[str, Any]]
    strays: int  # rooms dated on another day than the one asked for
    passes: int
    # Answered successfully without data: taken as empty for now, asked again later.
    unconfirmed: bool = False


def list_rooms(client: HappyTalkClient, window: DayWindow) -> ListedDay:
    """The rooms opened in `window`, asked of HappyTalk a page at a time (`list_window`)."""
    day = window.start.strftime("%Y-%m-%d")

    def fetch(page: int) -> RoomListPage:
        what = f"the rooms of {day}, page {page}"
        fields = {
            "sdate": day,
            "edate": day,
            "status": 99,
            "sort_key": "reg_date",
            "sort_value": "asc",
            "limit": PAGE_SIZE,
            "page": page,
        }
        return client.ask(
            ROOM_LIST,
            fields,
            what,
            kind="page",
            read=lambda body: room_list_page(body, what, page, PAGE_SIZE),
        )

    return list_window(fetch, window)


def list_window(fetch: Callable[[int], RoomListPage], window: DayWindow) -> ListedDay:
    """Every room opened in `window`, through every page of its day, until two passes agree.

    `fetch(page)` asks HappyTalk for one page of the window's day.

    Raises:
        HappyTalkResponseError: The list kept changing for `MAX_PASSES` passes.
    """
    day = window.start.strftime("%Y-%m-%d")
    seen: dict[str, dict[str, Any]] = {}
    previous: list[tuple[str, ...]] | None = None
    unconfirmed: list[int] = []  # the pages answered without data, in the latest pass

    def noting(page: int) -> RoomListPage:
        listed = fetch(page)
        if listed.unconfirmed:
            unconfirmed.append(page)
        return listed

    for passes in range(1, MAX_PASSES + 1):
        unconfirmed.clear()
        pages = _pass(noting, window, day, seen)
        listed = [ident for page in pages for ident in page]
        shifted_forward = len(listed) != len(set(listed))
        if len(pages) == 1 or (pages == previous and not shifted_forward):
            found = _in_window(seen, window, day, passes)
            return replace(found, unconfirmed=bool(unconfirmed) and not found.rooms)
        previous = pages
    msg = (
        f"HappyTalk's list of the rooms of {day} kept changing while it was read "
        f"({MAX_PASSES} passes)"
    )
    raise HappyTalkResponseError(msg)


def _pass(
    fetch: Callable[[int], RoomListPage],
    window: DayWindow,
    day: str,
    seen: dict[str, dict[str, Any]],
) -> list[tuple[str, ...]]:
    """Page through the day once, keeping every room in `seen`; the ids of each page read.

    The ids leave out rooms of the day opened after the window (see the module's note).
    """
    pages: list[tuple[str, ...]] = []
    for page in range(1, MAX_PAGES + 1):
        listed = fetch(page)
        if len(listed.rooms) > PAGE_SIZE:
            logger.warning(
                "HappyTalk sent %d rooms for the rooms of %s, page %d, more than %d",
                len(listed.rooms),
                day,
                page,
                PAGE_SIZE,
            )
        ids: list[str] = []
        for room in listed.rooms:  # each with an id and a reg_date (`room_list_page`)
            ident, opened = room["id"], room["reg_date"]
            seen[ident] = room
            if not (opened[:10] == day and opened > window.api_end):
                ids.append(ident)
        pages.append(tuple(ids))
        counted_out = listed.total is not None and page * PAGE_SIZE >= listed.total
        if len(listed.rooms) < PAGE_SIZE or counted_out:
            return pages
    msg = f"HappyTalk's list of the rooms of {day} did not end within {MAX_PAGES} pages"
    raise HappyTalkResponseError(msg)


def _in_window(
    seen: dict[str, dict[str, Any]], window: DayWindow, day: str, passes: int
) -> ListedDay:
    """The rooms seen that were opened in `window`, oldest first; other days' are counted."""
    first, last = window.api_start, window.api_end
    kept: list[dict[str, Any]] = []
    strays = 0
    for room in seen.values():
        opened = room["reg_date"]
        if opened[:10] != day:
            strays += 1
        elif first <= opened <= last:
            kept.append(room)
    kept.sort(key=lambda room: (room["reg_date"], room["id"]))
    return ListedDay(kept, strays, passes)
