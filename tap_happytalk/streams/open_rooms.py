"""The open-room rule: which consultation rooms may still change, kept in state until settled.

A room goes on changing after a run first reads it: it closes, gets messages, is rated. Each
chat stream's state holds the rooms it has read that have not settled yet, and each run reads
just those again by id. A room settles once it is closed (status 2 done, 3 deleted, 4 chatbot
ended) and either rated, or read at least `grace` after it closed: a rating given later than
that is not looked for. A room still in the set `recheck` after it was opened is given up.

Pure: no I/O, no SDK. Times are aware datetimes; a room's times are the records' own
RFC 3339 strings, as the tap sends them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

CLOSED_STATUSES = frozenset({"2", "3", "4"})
# The most rooms one stream's state holds (about 100 bytes each in the state): past it, the
# rooms opened longest ago are given up, as if `open_room_recheck_days` had passed.
MAX_OPEN_ROOMS = 5_000


@dataclass(frozen=True, order=True)
class OpenRoom:
    """A room read before and not settled: when it was opened and, once seen closed, closed."""

    opened: dt.datetime
    id: str
    closed: dt.datetime | None = None
    missing: bool = False  # HappyTalk did not know it when last asked (-503)

    def to_state(self) -> dict[str, Any]:
        """The room's entry in a stream's state."""
        entry: dict[str, Any] = {"id": self.id, "reg_date": self.opened.isoformat()}
        if self.closed is not None:
            entry["closed_at"] = self.closed.isoformat()
        if self.missing:
            entry["missing"] = True
        return entry

    @classmethod
    def from_state(cls, entry: object) -> OpenRoom | None:
        """The room an entry of a stream's state describes; None for anything else."""
        if not isinstance(entry, dict):
            return None
        ident, opened = entry.get("id"), _instant(entry.get("reg_date"))
        if not isinstance(ident, str) or not ident or opened is None:
            return None
        missing = entry.get("missing") is True
        return cls(opened, ident, _instant(entry.get("closed_at")), missing)


def _instant(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def is_closed(record: Mapping[str, Any]) -> bool:
    """Closed for good; open, or in a status HappyTalk does not document, is not."""
    return str(record.get("status")) in CLOSED_STATUSES


class OpenRoomSet:
    """One stream's rooms not yet settled, by id."""

    def __init__(self, rooms: Iterable[OpenRoom] = ()) -> None:
        """Hold `rooms` (a later one with the same id replaces an earlier)."""
        self._rooms = {room.id: room for room in rooms}

    @classmethod
    def from_state(cls, entries: object) -> OpenRoomSet:
        """The set a stream's state holds; entries that describe no room are left out."""
        listed = entries if isinstance(entries, list) else []
        return cls(room for room in map(OpenRoom.from_state, listed) if room is not None)

    def to_state(self) -> list[dict[str, Any]]:
        """The set for a stream's state, oldest room first."""
        return [room.to_state() for room in sorted(self._rooms.values())]

    def __len__(self) -> int:
        """How many rooms the set holds."""
        return len(self._rooms)

    def __contains__(self, room_id: object) -> bool:
        """Whether the room with this id is in the set."""
        return room_id in self._rooms

    def rooms(self) -> list[OpenRoom]:
        """The rooms, oldest first."""
        return sorted(self._rooms.values())

    def give_up(self, now: dt.datetime, recheck: dt.timedelta) -> list[OpenRoom]:
        """Leave out the rooms opened `recheck` or longer ago, and those past the bound.

        Returns:
            The rooms given up, oldest first.
        """
        given_up = [room for room in self._rooms.values() if room.opened <= now - recheck]
        kept = sorted(room for room in self._rooms.values() if room.opened > now - recheck)
        given_up += kept[: max(0, len(kept) - MAX_OPEN_ROOMS)]
        for room in given_up:
            del self._rooms[room.id]
        return sorted(given_up)

    def due(self, now: dt.datetime, grace: dt.timedelta) -> list[OpenRoom]:
        """The rooms to read again now: every open one, and closed ones whose grace is over.

        A closed room read again within its grace could only settle by a rating, which the
        read after the grace finds all the same.
        """
        return [room for room in self.rooms() if room.closed is None or now >= room.closed + grace]

    def observe(
        self,
        record: Mapping[str, Any],
        read_at: dt.datetime,
        grace: dt.timedelta,
        *,
        add: bool,
    ) -> None:
        """Take in a room as just read: a settled room leaves, an unsettled one stays.

        `add`: whether an unsettled room not in the set joins it (it does for rooms of days a
        stream reads for the first time, not for days it had done before).
        """
        ident = str(record["id"])
        known = self._rooms.get(ident)
        if known is None and not add:
            return
        opened = _instant(record.get("reg_date"))
        if opened is None:  # pragma: no cover - every record has its reg_date, made aware
            return
        closed = None
        if is_closed(record):
            remembered = known.closed if known is not None else None
            closed = _instant(record.get("complate_date")) or remembered or read_at
            rated = record.get("vote_score") not in (None, "")
            if rated or read_at >= closed + grace:
                self._rooms.pop(ident, None)
                return
        self._rooms[ident] = OpenRoom(opened, ident, closed)

    def forget(self, room_id: str) -> None:
        """Leave the room out."""
        self._rooms.pop(room_id, None)

    def missed(self, room_id: str, opened: dt.datetime, *, add: bool) -> bool:
        """HappyTalk did not know the room when asked (-503): a glitch, or a deletion.

        The first time, the room stays (or with `add`, joins) marked missing, to be asked
        again next run; the second time in a row it leaves.

        Returns:
            True if the room left the set.
        """
        known = self._rooms.get(room_id)
        if known is not None and known.missing:
            del self._rooms[room_id]
            return True
        if known is not None or add:
            closed = known.closed if known is not None else None
            self._rooms[room_id] = OpenRoom(opened, room_id, closed, missing=True)
        return False
