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

Resuming a day read in part (an hourly run later the same day). A run that read a day up to a
point remembers where the point stood in the list (`PointInList`: how many rooms opened before
it, and the last few of them). The next run, whose window starts at that point, asks first for
a page holding those rooms and the position after them, and reads on from there in ONE pass,
without a second, when two things hold:
- The overlap: that page shows the remembered rooms at their positions (their opening times in
  order, and the rooms of each second that lies whole among them, whatever their order), and
  after them a room opened at the point or later (or the list's end): the rooms before the
  point are as many as before. Otherwise a room left or joined before the point, and the day is
  read as above, in two passes.
- The chain (`unproven_from`): each answer is a snapshot of the sorted list, so it shows every
  room then listed whose opening time lies strictly between its first room's and its last's
  (strictly after its first room's when it reaches the list's end; from the list's start on a
  first page), whatever the order of ties. The first answer starts before the point (the
  overlap); each next one is asked to start before the last second of the one before (a room
  of an earlier second, with one place to spare for a room leaving meanwhile), so every second
  from the point on lies strictly inside one answer, a second straddling a page boundary
  included. A room present when the answer over its second was given cannot be missed; a room
  leaving or joining between answers only moves where the next one starts, which the chain
  checks. When an answer does not start before the last second of the one before, or reach
  past it (a second at an answer's end of up to 19 rooms always is reached past; of more, it
  depends on where the page sizes up to 50 put boundaries), the day is read in two passes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tap_happytalk.answers import room_list_page
from tap_happytalk.endpoints import ROOM_LIST
from tap_happytalk.errors import UnreadableDayError
from tap_happytalk.windows import API_FORMAT

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_happytalk.answers import RoomListPage
    from tap_happytalk.transport import HappyTalkClient
    from tap_happytalk.windows import DayWindow

PAGE_SIZE = 50  # HappyTalk's largest page
MAX_PASSES = 5  # passes of one day while its list keeps changing, before the run gives up
MAX_PAGES = 10_000  # 500,000 rooms in a day: past that, the list is taken to be endless
LAST_ROOMS = 5  # rooms before a point remembered, to find it again in the next run's list

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
    resumed: bool = False  # read on from the point in one pass, not in two passes
    # Where the window's end stands in the day's list, for a run that starts there.
    point_after: PointInList | None = None


@dataclass(frozen=True)
class PointInList:
    """Where a point stood in its day's list when a run last read it.

    `point`: the first second not read (wall clock, `Y-m-d H:i:s`); `rooms_before`: how many
    rooms of the day opened before it; `last`: the last of them, `(reg_date, id)`, oldest
    first, at positions `rooms_before - len(last)` to `rooms_before - 1` (none only when
    `rooms_before` is 0).
    """

    point: str
    rooms_before: int
    last: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Snapshot:
    """One answer of a day's list: where it starts, its rooms' opening times, if it ends it."""

    offset: int  # the position of its first room, from 0
    opened: tuple[str, ...]  # reg_date of each room, as listed
    ends: bool  # it reaches the list's end (fewer rooms than asked, or total_count)
    ids: tuple[str, ...] = ()  # each room's id, as listed


def unproven_from(snapshots: list[Snapshot], point: str) -> str | None:
    """The earliest opening time from `point` on that the answers do not prove shown; None: none.

    Each answer shows every room listed at that moment whose opening time lies strictly
    between its first room's and its last's; from the list's start (a first page) and to the
    list's end (`ends`) those bounds fall away. Every room opened at `point` or later and before
    the time returned lay inside one answer. An answer out of order proves nothing.
    """
    if any(list(s.opened) != sorted(s.opened) for s in snapshots):
        return point
    frontier = point
    while True:
        furthest: str | None = None
        for snapshot in snapshots:
            if not snapshot.opened:
                if snapshot.offset == 0 and snapshot.ends:
                    return None  # the whole list, empty
                continue
            low = "" if snapshot.offset == 0 else snapshot.opened[0]
            if low >= frontier:
                continue
            if snapshot.ends:
                return None
            high = snapshot.opened[-1]
            if high > frontier and (furthest is None or high > furthest):
                furthest = high
        if furthest is None:
            return frontier
        frontier = furthest


def list_rooms(
    client: HappyTalkClient, window: DayWindow, resume: PointInList | None = None
) -> ListedDay:
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

    return list_window(fetch, window, resume)


def list_window(
    fetch: Callable[[int, int, Order], RoomListPage],
    window: DayWindow,
    resume: PointInList | None = None,
) -> ListedDay:
    """Every room opened in `window`, through every page of its day, until two passes agree.

    `fetch(page, limit, order)` asks HappyTalk for one page of the window's day. With `resume`
    (where the window's start stood in the list when a run last read it), the list is read on
    from there in one pass if the overlap and the chain hold (see the module's note), else
    whole, as without it.

    Raises:
        UnreadableDayError: The list kept changing for `MAX_PASSES` passes, a page repeated
            the one before it, or a tie group could not be read whole.
    """
    reader = _Reader(fetch, window)
    if resume is not None and resume.point == window.api_start and window.start.time() != dt.time():
        resumed = reader.resume(resume)
        if resumed is not None:
            return resumed
    previous: _Pass | None = None
    for passes in range(1, MAX_PASSES + 1):
        current = reader.read_pass()
        if len(current.pages) == 1 and reader.unconfirmed and reader.seen:
            # Rooms listed before, then a first page without data: a glitch, not a snapshot.
            raise UnreadableDayError(reader.day, "answered without data after listing rooms")
        if len(current.pages) == 1:
            return reader.listed(passes, current.point_after(reader.window))
        if (
            previous is not None
            and current.agrees_with(previous)
            and reader.read_ties(current, previous)
        ):
            return reader.listed(passes, current.point_after(reader.window))
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

    def point_after(self, window: DayWindow) -> PointInList | None:
        """Where the window's end stands in this pass: the rooms opened up to its last second."""
        if window.end.date() != window.start.date():
            return None  # the next window is another day's
        last_second = window.api_end
        before = sorted(
            (position, opened, ident)
            for page in self.pages
            for position, opened, ident in page
            if opened <= last_second
        )
        count = before[-1][0] + 1 if before else 0
        tail = before[-LAST_ROOMS:]
        if [position for position, _, _ in tail] != list(range(count - len(tail), count)):
            return None  # not one room a position: nothing to remember
        point = window.end.strftime(API_FORMAT)
        return PointInList(point, count, tuple((opened, ident) for _, opened, ident in tail))

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

    def resume(self, memory: PointInList) -> ListedDay | None:
        """The window's rooms read on from where `memory` says its start stands: one pass.

        None when the overlap or the chain fails (see the module's note): read the day whole.
        """
        first = memory.rooms_before - len(memory.last)
        span = _furthest_page(first, memory.rooms_before)
        if span is None:  # pragma: no cover - LAST_ROOMS rooms and one more fit a page
            return None
        snapshot = self._snapshot(*span)
        if snapshot is None or not _overlap_holds(snapshot, memory):
            logger.debug(
                "Rooms of %s: the list changed before %s: read whole", self.day, memory.point
            )
            return None
        snapshots = [snapshot]
        proven: str | None = None
        for _ in range(MAX_PAGES):
            unproven = unproven_from(snapshots, memory.point)
            if unproven is None or unproven > self.window.api_end:
                return self.listed(1, self._point_after(snapshots), resumed=True)
            last = snapshots[-1]
            stalled = proven is not None and unproven <= proven
            if stalled or not last.opened or unproven != last.opened[-1]:
                break  # no answer reaches past the last second: read whole
            proven = unproven
            span = _next_page(last)
            snapshot = self._snapshot(*span) if span is not None else None
            if snapshot is None:
                break
            snapshots.append(snapshot)
        logger.debug(
            "Rooms of %s: read on from %s, not proven whole: read whole", self.day, memory.point
        )
        return None

    def _snapshot(self, page: int, limit: int) -> Snapshot | None:
        """One answer as a snapshot; None for one without data (read the day whole)."""
        listed = self.ask(page, limit, "asc")
        if listed.unconfirmed:
            return None
        rooms = listed.rooms
        offset = (page - 1) * limit
        ends = len(rooms) < limit or (
            listed.total is not None and offset + len(rooms) >= listed.total
        )
        opened = tuple(room["reg_date"] for room in rooms)
        return Snapshot(offset, opened, ends, tuple(room["id"] for room in rooms))

    def _point_after(self, snapshots: list[Snapshot]) -> PointInList | None:
        """Where the window's end stands, from the latest answer that shows it."""
        if self.window.end.date() != self.window.start.date():
            return None  # the next window is another day's
        last_second = self.window.api_end
        for snapshot in reversed(snapshots):
            rooms = list(zip(snapshot.opened, snapshot.ids, strict=True))
            after = next(
                (index for index, (opened, _) in enumerate(rooms) if opened > last_second), None
            )
            if after is None and not snapshot.ends:
                continue
            count = len(rooms) if after is None else after
            if count == 0 and snapshot.offset > 0:
                continue
            tail = tuple(rooms[max(0, count - LAST_ROOMS) : count])
            point = self.window.end.strftime(API_FORMAT)
            return PointInList(point, snapshot.offset + count, tail)
        return None

    def listed(
        self, passes: int, point_after: PointInList | None = None, *, resumed: bool = False
    ) -> ListedDay:
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
        return ListedDay(
            kept,
            strays,
            passes,
            self.requests,
            self.tie_reads,
            unconfirmed,
            resumed=resumed,
            point_after=None if unconfirmed else point_after,
        )


def _furthest_page(first: int, last: int) -> tuple[int, int] | None:
    """The (page, limit) of a page holding positions `first`..`last` that reaches furthest."""
    best: tuple[int, int, int] | None = None  # (reach, page, limit)
    for limit in range(last - first + 1, PAGE_SIZE + 1):
        start = first // limit * limit
        reach = start + limit - 1
        if reach >= last and (best is None or reach > best[0]):
            best = (reach, start // limit + 1, limit)
    return None if best is None else (best[1], best[2])


def _next_page(last: Snapshot) -> tuple[int, int] | None:
    """The page to ask after `last`: it starts before `last`'s last second, and goes past it.

    It starts at the last room of an earlier second, or one place before it (so that a room
    leaving meanwhile still leaves one there); None if `last` holds one second alone.
    """
    earlier = [i for i, opened in enumerate(last.opened) if opened < last.opened[-1]]
    if not earlier:
        return None
    after = last.offset + len(last.opened)
    for start in (last.offset + earlier[-1] - 1, last.offset + earlier[-1]):
        span = _furthest_page(max(start, 0), after)
        if span is not None:
            return span
    return None


def _overlap_holds(snapshot: Snapshot, memory: PointInList) -> bool:
    """Whether the answer shows the rooms before the point as `memory` remembers them.

    The remembered opening times at their positions, then one at the point or later (or the
    list's end); and the rooms of each second that lies whole among the remembered ones (all
    but the first, unless it opens the list), whatever their order.
    """
    first = memory.rooms_before - len(memory.last)
    at = first - snapshot.offset
    count = len(memory.last)
    if at < 0 or len(snapshot.opened) < at + count:
        return False
    if list(snapshot.opened[at : at + count]) != [opened for opened, _ in memory.last]:
        return False
    after = at + count
    if after < len(snapshot.opened):
        if snapshot.opened[after] < memory.point:
            return False
    elif not snapshot.ends:
        return False
    shown = list(zip(snapshot.opened[at : at + count], snapshot.ids[at : at + count], strict=True))
    for second in {opened for opened, _ in memory.last}:
        if first > 0 and second == memory.last[0][0]:
            continue  # it may begin before the remembered rooms
        remembered = [ident for opened, ident in memory.last if opened == second]
        if len(set(remembered)) != len(remembered):
            continue  # remembered from a pass that listed one of them twice: unknown
        if sorted(ident for opened, ident in shown if opened == second) != sorted(remembered):
            return False
    return True


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
