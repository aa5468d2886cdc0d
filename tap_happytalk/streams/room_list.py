"""Paging a day's room list exactly, while rooms join and leave it and ties come in any order.

HappyTalk lists a day's rooms in pages of at most 50, by offset (`page`), here sorted by
opening time (`reg_date`, to the second), oldest first. Two things move rooms between pages.

Joins and leaves. A room that leaves the list while the tap pages it shifts every later room
back by one, so the room at the next page's boundary slips onto a page already read and is
never seen; a room that joins shifts them forward, and one is seen twice. Neither shows in
`total_count` when a room joins at the same time as another leaves.

Ties. HappyTalk sorts by `reg_date` alone, and a database is free to order rooms opened in the
same second (a tie group) differently on every request. A tie group that straddles a page
boundary can then show one room on both pages and another on neither, though nothing moved.

So a day is paged again until two passes in a row agree on what does not depend on the order
of ties: each page's sequence of opening times, and the rooms of each tie group that lies on one
page (a single-page pass is one answer, a snapshot, and needs no second). The later pass must
list no room twice, save within a tie group that straddles pages, where ties explain it. A room
hidden from a pass by a leave slips back onto a page the next pass reads; the two passes can
only agree if no room left between them, and then the later one missed nothing that was there
throughout. A room listed twice in a pass shows a room that joined before the tap's place in
the list: one that joined and left again within a pass could mask a leave, so such a pass is
never the last. Within a straddling tie group a join shows instead in the group's count, which
the next step checks.

Each tie group that straddles pages is complete if both passes listed the same rooms for it,
each once (HappyTalk kept their order). Otherwise it is read whole in ONE answer: a page whose
span (any `limit` up to 50) holds the group's positions and the room on each side of it, asked
oldest first or, if no page size fits, newest first. That answer must show the group between
rooms of other seconds (or an end of the list), each room once, as many as the passes counted:
then it holds every room of that second, as it was at that moment. If not, the list changed
since, and the day is paged again.

The day fails (`UnreadableDayError`, for the stream to set it aside and ask again next run) when
its list keeps changing for `MAX_PASSES` passes, when a page lists exactly the rooms of the
page before it, in any order (a HappyTalk that ignores `page` would otherwise be asked
`MAX_PAGES` times without a `total_count`), and when a straddling tie group must be read whole
but no answer can hold it: 49 rooms or more in one second, or a group of 24 to 48 that no page
size fits in either order (up to 23 always fit).

What is not covered: the same room leaving and joining again. Rooms opened after the window
asked for (today's newest, while the tap pages) are left out of the comparison: the list is in
opening order, so they join at its end and shift nothing before them. Every room seen in any
answer is kept, even one that left the list later.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tap_happytalk.answers import room_list_page
from tap_happytalk.endpoints import ROOM_LIST
from tap_happytalk.errors import UnreadableDayError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_happytalk.answers import RoomListPage
    from tap_happytalk.transport import HappyTalkClient
    from tap_happytalk.windows import DayWindow

PAGE_SIZE = 50  # HappyTalk's largest page
MAX_PASSES = 5  # passes of one day while its list keeps changing, before the run gives up
MAX_PAGES = 10_000  # 500,000 rooms in a day: past that, the list is taken to be endless

Order = Literal["asc", "desc"]  # HappyTalk's sort_value: oldest or newest first

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListedDay:
    """The rooms HappyTalk listed for one window, oldest first, and what it listed amiss."""

    rooms: list[dict[str, Any]]
    strays: int  # rooms dated on another day than the one asked for
    passes: int
    requests: int = 0  # room-list answers asked: every page of every pass, and the tie reads
    tie_reads: int = 0  # answers asked to read a tie group whole
    # Answered successfully without data: taken as empty for now, asked again later.
    unconfirmed: bool = False


def list_rooms(client: HappyTalkClient, window: DayWindow) -> ListedDay:
    """The rooms opened in `window`, asked of HappyTalk a page at a time (`list_window`).

    Raises:
        UnreadableDayError: The day's list cannot be read exactly (see the module's note).
    """
    day = window.start.strftime("%Y-%m-%d")

    def fetch(page: int, limit: int, order: Order) -> RoomListPage:
        what = f"the rooms of {day}, page {page}"
        if (limit, order) != (PAGE_SIZE, "asc"):
            what += f" ({limit} a page{', newest first' if order == 'desc' else ''})"
        fields = {
            "sdate": day,
            "edate": day,
            "status": 99,
            "sort_key": "reg_date",
            "sort_value": order,
            "limit": limit,
            "page": page,
        }
        return client.ask(
            ROOM_LIST,
            fields,
            what,
            kind="page",
            read=lambda body: room_list_page(body, what, page, limit),
        )

    return list_window(fetch, window)


def list_window(fetch: Callable[[int, int, Order], RoomListPage], window: DayWindow) -> ListedDay:
    """Every room opened in `window`, through every page of its day, until two passes agree.

    `fetch(page, limit, order)` asks HappyTalk for one page of the window's day.

    Raises:
        UnreadableDayError: The list kept changing for `MAX_PASSES` passes, a page repeated
            the one before it, or a tie group could not be read whole.
    """
    reader = _Reader(fetch, window)
    previous: _Pass | None = None
    for passes in range(1, MAX_PASSES + 1):
        current = reader.read_pass()
        if len(current.pages) == 1 and reader.unconfirmed and reader.seen:
            # Rooms listed before, then a first page without data: a glitch, not a snapshot.
            raise UnreadableDayError(reader.day, "answered without data after listing rooms")
        if len(current.pages) == 1:
            return reader.listed(passes)
        if (
            previous is not None
            and current.agrees_with(previous)
            and reader.read_ties(current, previous)
        ):
            return reader.listed(passes)
        previous = current
    raise UnreadableDayError(reader.day, f"kept changing while it was read ({MAX_PASSES} passes)")


@dataclass(frozen=True)
class _Group:
    """The rooms one pass listed at one opening time: where, and which."""

    first: int  # position in the list, from 0
    last: int
    count: int  # positions listed, a room listed twice counted twice
    ids: frozenset[str]
    pages: frozenset[int]


@dataclass(frozen=True)
class _Pass:
    """One pass through the day: each page's rooms in the comparison, and each second's."""

    pages: list[list[tuple[int, str, str]]]  # (position, reg_date, id)
    size: int  # positions listed, compared or not
    groups: dict[str, _Group]  # by reg_date

    @classmethod
    def of(cls, pages: list[list[tuple[int, str, str]]], size: int) -> _Pass:
        """The pass that listed `pages`, its rooms gathered by opening time."""
        found: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for number, page in enumerate(pages):
            for position, opened, ident in page:
                found[opened].append((position, number, ident))
        groups = {
            opened: _Group(
                first=min(position for position, _, _ in listed),
                last=max(position for position, _, _ in listed),
                count=len(listed),
                ids=frozenset(ident for _, _, ident in listed),
                pages=frozenset(number for _, number, _ in listed),
            )
            for opened, listed in found.items()
        }
        return cls(pages, size, groups)

    def straddling(self) -> list[str]:
        """The opening times whose rooms lie on more than one page (ties across a boundary)."""
        return [opened for opened, group in self.groups.items() if len(group.pages) > 1]

    def agrees_with(self, previous: _Pass) -> bool:
        """The same opening times on every page, the same rooms in every group on one page.

        And no room twice, but within a straddling group, whose order can explain it.
        """
        keys = [[opened for _, opened, _ in page] for page in self.pages]
        if keys != [[opened for _, opened, _ in page] for page in previous.pages]:
            return False
        return all(
            len(group.ids) == group.count and group.ids == previous.groups[opened].ids
            for opened, group in self.groups.items()
            if len(group.pages) == 1
        )


@dataclass
class _Reader:
    """One day's answers: the rooms seen in any of them, and how many were asked."""

    fetch: Callable[[int, int, Order], RoomListPage]
    window: DayWindow
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    tie_reads: int = 0
    unconfirmed: list[int] = field(default_factory=list)  # pages without data, latest pass

    @property
    def day(self) -> str:
        """The window's day, as HappyTalk writes it."""
        return self.window.start.strftime("%Y-%m-%d")

    def ask(self, page: int, limit: int, order: Order) -> RoomListPage:
        """One answer, each of its rooms kept in `seen`."""
        listed = self.fetch(page, limit, order)
        self.requests += 1
        if len(listed.rooms) > limit:
            logger.warning(
                "HappyTalk sent %d rooms for the rooms of %s, page %d, more than %d",
                len(listed.rooms),
                self.day,
                page,
                limit,
            )
        for room in listed.rooms:  # each with an id and a reg_date (`room_list_page`)
            self.seen[room["id"]] = room
        if listed.unconfirmed:
            self.unconfirmed.append(page)
        return listed

    def read_pass(self) -> _Pass:
        """Page through the day once, keeping every room in `seen`.

        Rooms of the day opened after the window are left out of the comparison (see the
        module's note).

        Raises:
            UnreadableDayError: A page listed exactly the rooms of the page before it, or the
                list did not end within `MAX_PAGES` pages.
        """
        day, after = self.day, self.window.api_end
        pages: list[list[tuple[int, str, str]]] = []
        before: set[str] = set()
        self.unconfirmed.clear()
        for page in range(1, MAX_PAGES + 1):
            listed = self.ask(page, PAGE_SIZE, "asc")
            rooms = listed.rooms
            ids = {room["id"] for room in rooms}
            if rooms and ids == before:
                # A HappyTalk that ignores `page`: without a total_count it would never end.
                problem = f"answered page {page} with the same {len(ids)} rooms as page {page - 1}"
                raise UnreadableDayError(day, problem)
            before = ids
            offset = (page - 1) * PAGE_SIZE
            pages.append(
                [
                    (offset + index, room["reg_date"], room["id"])
                    for index, room in enumerate(rooms)
                    if not (room["reg_date"][:10] == day and room["reg_date"] > after)
                ]
            )
            counted_out = listed.total is not None and page * PAGE_SIZE >= listed.total
            if len(rooms) < PAGE_SIZE or counted_out:
                return _Pass.of(pages, offset + len(rooms))
        raise UnreadableDayError(day, f"did not end within {MAX_PAGES} pages")

    def read_ties(self, current: _Pass, previous: _Pass) -> bool:
        """Whether every tie group across a page boundary is read whole (asking if needed).

        False when an answer shows the list changed since `current`: page the day again.

        Raises:
            UnreadableDayError: A group that must be asked for whole fits no answer.
        """
        for opened in current.straddling():
            group = current.groups[opened]
            if len(group.ids) == group.count and group.ids == previous.groups[opened].ids:
                continue  # listed once each, the same in both passes: HappyTalk kept the order
            if not self._read_whole(opened, group, current.size):
                return False
        return True

    def _read_whole(self, opened: str, group: _Group, size: int) -> bool:
        """Ask for `group` in one answer with a room on each side; whether it came whole.

        Raises:
            UnreadableDayError: No page of at most `PAGE_SIZE` rooms holds it, either order.
        """
        orders: list[tuple[Order, int, int]] = [
            ("asc", group.first, group.last),
            ("desc", size - 1 - group.last, size - 1 - group.first),  # its place newest first
        ]
        for order, first, last in orders:
            span = _page_holding(max(first - 1, 0), last + 1)
            if span is None:
                continue
            page, limit = span
            rooms = self.ask(page, limit, order).rooms
            self.tie_reads += 1
            return _whole(rooms, opened, group.count, first_page=page == 1, limit=limit)
        problem = (
            f"has {group.count} rooms opened at {opened} across pages "
            f"{group.first // PAGE_SIZE + 1} and {group.last // PAGE_SIZE + 1}, more than one "
            f"answer of at most {PAGE_SIZE} rooms can show between their neighbours"
        )
        raise UnreadableDayError(self.day, problem)

    def listed(self, passes: int) -> ListedDay:
        """The rooms seen that were opened in the window, oldest first; other days' counted."""
        day, first, last = self.day, self.window.api_start, self.window.api_end
        kept: list[dict[str, Any]] = []
        strays = 0
        for room in self.seen.values():
            opened = room["reg_date"]
            if opened[:10] != day:
                strays += 1
            elif first <= opened <= last:
                kept.append(room)
        kept.sort(key=lambda room: (room["reg_date"], room["id"]))
        unconfirmed = bool(self.unconfirmed) and not kept
        return ListedDay(kept, strays, passes, self.requests, self.tie_reads, unconfirmed)


def _page_holding(first: int, last: int) -> tuple[int, int] | None:
    """The (page, limit) of the smallest page that holds positions `first`..`last`, if any."""
    for limit in range(last - first + 1, PAGE_SIZE + 1):
        if first // limit == last // limit:
            return first // limit + 1, limit
    return None


def _whole(
    rooms: list[dict[str, Any]], opened: str, count: int, *, first_page: bool, limit: int
) -> bool:
    """Whether `rooms` show `count` rooms opened at `opened`, once each, between other rooms.

    A neighbour of another second on each side (or the list's start or end) shows that no
    room of that second lies outside the answer.
    """
    at = [index for index, room in enumerate(rooms) if room["reg_date"] == opened]
    if not at or at[-1] - at[0] + 1 != len(at):
        return False
    starts = at[0] > 0 or first_page
    ends = at[-1] < len(rooms) - 1 or len(rooms) < limit
    once = len({rooms[index]["id"] for index in at}) == len(at)
    return starts and ends and once and len(at) == count
