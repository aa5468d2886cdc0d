"""How far a stream got: one small model that every stream keeps the same way.

A stream's progress is three things, and its state says exactly these:
- **done up to a point** (`point`, the state's `replication_key_value`): everything before it
  was read, apart from the units below; a run goes on from there;
- **units to ask again** (`ask_again`): a window (a stretch of time asked for in one go: a
  day of service history, a day's room list) or a room, each with why, since when and how many
  later runs asked it again;
- **units given up** (`given_up`): how many, by why, over the stream's life.

Why a unit is asked again:
- `failed`: it kept failing through a run's retries (5xx, time-outs, answers HappyTalk does not
  document), so its data has not come. The run went on past it; every later run asks it again
  until it answers, then sends it whole; after `Bounds.failed_for` it is given up. A run that
  ends with a failed unit is incomplete (exit code 3).
- `unconfirmed`: HappyTalk answered it successfully but without data. Taken as empty for now,
  and asked again by every later run until `Bounds.confirm_for` has passed (at least once):
  data that appears meanwhile is sent; a day still empty then is taken as truly empty.
- `open`: a room read while it could still change (open, or closed and not yet rated). Asked
  again until it settles, for at most `Bounds.open_for` after it was opened.
- `missing`: a room HappyTalk did not know once (-503). Asked again next run, however old; a
  second miss in a row means it was deleted, and it is given up.

A stream keeps at most `Bounds.most` units: past it, the least needed are given up first (open
rooms, then unconfirmed windows, missing rooms, failed units; the oldest first).

Pure: no I/O, no SDK, no HTTP. Times are aware datetimes.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace
from typing import Any

ASK_AGAIN = "ask_again"
GIVEN_UP = "given_up"
LEGACY_OPEN_ROOMS = "open_rooms"  # the state written at 499911a: open rooms only
MOST_UNITS = 5_000  # about 150 bytes each in the state


class Why(str, enum.Enum):
    """Why a unit is to be asked again; the words of the state, the logs and the README."""

    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    OPEN = "open"
    MISSING = "missing"


# Given up first when a stream holds too many units: what is lost matters least.
GIVE_UP_ORDER = (Why.OPEN, Why.UNCONFIRMED, Why.MISSING, Why.FAILED)


class Kind(str, enum.Enum):
    """What a unit is."""

    WINDOW = "window"
    ROOM = "room"


@dataclass(frozen=True, order=True)
class Unit:
    """A piece of work asked for in one go: a window [start, end), or a room opened at start."""

    start: dt.datetime
    kind: Kind
    id: str = ""  # a room's id
    end: dt.datetime | None = None  # a window's end

    @classmethod
    def window(cls, start: dt.datetime, end: dt.datetime) -> Unit:
        """The window [start, end)."""
        return cls(start, Kind.WINDOW, end=end)

    @classmethod
    def room(cls, room_id: str, opened: dt.datetime) -> Unit:
        """The room with this id, opened then."""
        return cls(opened, Kind.ROOM, id=room_id)

    @property
    def key(self) -> str:
        """What names the unit in a stream's progress, and in the logs."""
        if self.kind is Kind.ROOM:
            return f"room {self.id}"
        return f"window {self.start.isoformat()}..{_iso(self.end)}"


@dataclass(frozen=True)
class Pending:
    """A unit to ask again: why, since when (why last changed), how many runs asked again."""

    unit: Unit
    why: Why
    since: dt.datetime
    tries: int = 0
    closed: dt.datetime | None = None  # a room seen closed: when it closed

    def to_state(self) -> dict[str, Any]:
        """The entry in the state's `ask_again`."""
        unit = self.unit
        entry: dict[str, Any] = {"unit": unit.kind.value}
        if unit.kind is Kind.ROOM:
            entry |= {"id": unit.id, "reg_date": unit.start.isoformat()}
        else:
            entry |= {"start": unit.start.isoformat(), "end": _iso(unit.end)}
        entry |= {"why": self.why.value, "since": self.since.isoformat(), "tries": self.tries}
        if self.closed is not None:
            entry["closed_at"] = self.closed.isoformat()
        return entry

    @classmethod
    def from_state(cls, entry: object, read_at: dt.datetime) -> Pending | None:
        """The unit an `ask_again` entry (or an `open_rooms` one of 499911a) describes, or None."""
        if not isinstance(entry, dict):
            return None
        kind = entry.get("unit", Kind.ROOM.value)
        unit: Unit | None = None
        if kind == Kind.ROOM.value:
            ident, opened = entry.get("id"), instant(entry.get("reg_date"))
            if isinstance(ident, str) and ident and opened is not None:
                unit = Unit.room(ident, opened)
        elif kind == Kind.WINDOW.value:
            start, end = instant(entry.get("start")), instant(entry.get("end"))
            if start is not None and end is not None and start < end:
                unit = Unit.window(start, end)
        if unit is None:
            return None
        legacy_why = Why.MISSING if entry.get("missing") is True else Why.OPEN
        try:
            why = Why(entry.get("why", legacy_why.value))
        except ValueError:
            return None
        tries = entry.get("tries")
        return cls(
            unit,
            why,
            instant(entry.get("since")) or read_at,
            tries if type(tries) is int and tries >= 0 else 0,
            instant(entry.get("closed_at")),
        )


@dataclass(frozen=True)
class Bounds:
    """How long each kind of unit is asked again, and how many a stream keeps."""

    failed_for: dt.timedelta  # from when it first failed (`set_aside_days`)
    open_for: dt.timedelta = dt.timedelta(days=7)  # from when the room was opened
    grace: dt.timedelta = dt.timedelta(hours=1)  # a closed room waits this long for a rating
    confirm_for: dt.timedelta = dt.timedelta(hours=24)  # from the first answer without data
    most: int = MOST_UNITS


@dataclass
class Progress:
    """How far one stream got: its point, the units to ask again, the units given up."""

    point: dt.datetime | None = None
    _pending: dict[str, Pending] = field(default_factory=dict)
    given_up: dict[Why, int] = field(default_factory=dict)
    # Given up since the stream last took them (`take_given_up`), for its warning.
    _just_given_up: list[Pending] = field(default_factory=list)

    @classmethod
    def from_state(
        cls, state: dict[str, Any], point: dt.datetime | None, read_at: dt.datetime
    ) -> Progress:
        """The progress a stream's state holds, its point already read.

        Unreadable entries are left out. The `open_rooms` of 499911a is read as rooms `open`
        (or `missing`).
        """
        entries = state.get(ASK_AGAIN)
        if not isinstance(entries, list):
            legacy = state.get(LEGACY_OPEN_ROOMS)
            entries = legacy if isinstance(legacy, list) else []
        progress = cls(point)
        for entry in entries:
            pending = Pending.from_state(entry, read_at)
            if pending is not None:
                progress._pending[pending.unit.key] = pending
        counts = state.get(GIVEN_UP)
        for why in Why:
            count = counts.get(why.value) if isinstance(counts, dict) else None
            if type(count) is int and count > 0:
                progress.given_up[why] = count
        return progress

    def to_state(self) -> dict[str, Any]:
        """The `ask_again` and `given_up` parts of the stream's state (the point is the SDK's)."""
        return {
            ASK_AGAIN: [pending.to_state() for pending in self.pending()],
            GIVEN_UP: {why.value: self.given_up[why] for why in Why if self.given_up.get(why)},
        }

    def pending(self, why: Why | None = None) -> list[Pending]:
        """The units to ask again (those for `why`, if given), oldest first."""
        units = sorted(self._pending.values(), key=lambda pending: pending.unit)
        return [pending for pending in units if why is None or pending.why is why]

    def get(self, unit: Unit) -> Pending | None:
        """The unit's entry, if it is to be asked again."""
        return self._pending.get(unit.key)

    def __len__(self) -> int:
        """How many units are to be asked again."""
        return len(self._pending)

    def done(self, until: dt.datetime) -> None:
        """Everything before `until` has been read (the point never moves back)."""
        if self.point is None or until > self.point:
            self.point = until

    def settle(self, unit: Unit) -> None:
        """The unit answered, or no longer needs asking: it leaves."""
        self._pending.pop(unit.key, None)

    def set_aside(
        self,
        unit: Unit,
        why: Why,
        now: dt.datetime,
        *,
        bounds: Bounds,
        closed: dt.datetime | None = None,
    ) -> None:
        """Ask the unit again in later runs, for `why`.

        Asked again for the same reason, it keeps its `since` and counts one more try; so it
        does between `failed`, `unconfirmed` and `missing`; to or from `open` it starts anew.
        `closed`: when a room was seen closed, None while it is open (a room that opens again
        is open). Past `bounds.most` units, the least needed are given up.
        """
        known = self._pending.get(unit.key)
        if known is not None and known.why is why:
            pending = replace(known, tries=known.tries + 1, closed=closed)
        elif known is not None and Why.OPEN not in (known.why, why):
            # Between failed, unconfirmed and missing a unit keeps its first `since`: one that
            # flips between them is still given up `failed_for` after it first went wrong.
            pending = Pending(unit, why, known.since, known.tries + 1, closed)
        else:
            pending = Pending(unit, why, now, closed=closed)
        self._pending[unit.key] = pending
        self._keep_at_most(bounds.most)

    def due(self, now: dt.datetime, bounds: Bounds) -> list[Pending]:
        """The units to ask again now, oldest first: all but closed rooms within their grace.

        A closed room read again within its grace could only settle by a rating, which the
        read after the grace finds all the same.
        """
        return [
            pending
            for pending in self.pending()
            if pending.closed is None or now >= pending.closed + bounds.grace
        ]

    def expire(self, now: dt.datetime, bounds: Bounds) -> list[Pending]:
        """Leave out the units asked again long enough.

        Returns:
            The unconfirmed units that leave as truly empty; the others that leave are given
            up, and counted (see `take_given_up`).
        """
        confirmed: list[Pending] = []
        for pending in self.pending():
            if pending.why is Why.UNCONFIRMED:
                if pending.tries >= 1 and now >= pending.since + bounds.confirm_for:
                    confirmed.append(pending)
                    self.settle(pending.unit)
            elif (pending.why is Why.OPEN and now >= pending.unit.start + bounds.open_for) or (
                pending.why is Why.FAILED and now >= pending.since + bounds.failed_for
            ):
                self.give_up(pending)
        self._keep_at_most(bounds.most)
        return confirmed

    def give_up(self, pending: Pending) -> None:
        """The unit leaves, counted as given up (once: a unit no longer held counts nothing)."""
        if self._pending.pop(pending.unit.key, None) is None:
            return
        self.given_up[pending.why] = self.given_up.get(pending.why, 0) + 1
        self._just_given_up.append(pending)

    def take_given_up(self) -> list[Pending]:
        """The units given up since last asked, once."""
        taken, self._just_given_up = self._just_given_up, []
        return taken

    def _keep_at_most(self, most: int) -> None:
        excess = len(self._pending) - most
        if excess <= 0:
            return
        rank = {why: order for order, why in enumerate(GIVE_UP_ORDER)}
        by_need = sorted(self._pending.values(), key=lambda p: (rank[p.why], p.unit))
        for pending in by_need[:excess]:
            self.give_up(pending)


def instant(value: object) -> dt.datetime | None:
    """An aware datetime from its ISO text; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _iso(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""
