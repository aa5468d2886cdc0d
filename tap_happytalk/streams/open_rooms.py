"""The open-room rule: when a consultation room read again has settled, kept in its progress.

A room goes on changing after a run first reads it: it closes, gets messages, is rated. Each
chat stream's progress holds, as units to ask again (`open`), the rooms it has read that have
not settled, and each run reads just those again by id. A room settles once it is closed
(status 2 done, 3 deleted, 4 chatbot ended) and either rated, or read at least `grace` after it
closed: a rating given later than that is not looked for. How long an open room is asked again
is the progress's rule (`Bounds.open_for`, from its opening).

Pure: no I/O, no SDK. Times are aware datetimes; a room's times are the records' own RFC 3339
strings, as the tap sends them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_happytalk.progress import Unit, Why, instant

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

    from tap_happytalk.progress import Bounds, Progress

CLOSED_STATUSES = frozenset({"2", "3", "4"})


def is_closed(record: Mapping[str, Any]) -> bool:
    """Closed for good; open, or in a status HappyTalk does not document, is not."""
    return str(record.get("status")) in CLOSED_STATUSES


def room_unit(record: Mapping[str, Any]) -> Unit:
    """The unit of a room record (its `reg_date` is aware, as the tap sends it)."""
    opened = instant(record.get("reg_date"))
    if opened is None:  # pragma: no cover - every record has its reg_date, made aware
        msg = f"room {record.get('id')} has no aware reg_date"
        raise ValueError(msg)
    return Unit.room(str(record["id"]), opened)


def observe(
    progress: Progress,
    record: Mapping[str, Any],
    read_at: dt.datetime,
    bounds: Bounds,
    *,
    track: bool,
) -> None:
    """Take in a room as just read: a settled room leaves, an unsettled one stays `open`.

    `track`: whether an unsettled room the progress does not hold joins it (it does for rooms
    the stream reads for the first time, not for rooms of days it had done before).
    """
    unit = room_unit(record)
    known = progress.get(unit)
    if known is None and not track:
        return
    remembered = known.closed if known is not None else None
    if settles(record, read_at, bounds, remembered):
        progress.settle(unit)
        return
    closed = _closing(record, read_at, remembered) if is_closed(record) else None
    progress.set_aside(unit, Why.OPEN, read_at, bounds=bounds, closed=closed)


def settles(
    record: Mapping[str, Any],
    read_at: dt.datetime,
    bounds: Bounds,
    remembered: dt.datetime | None = None,
) -> bool:
    """Whether a room just read has settled: closed, and rated or read a grace after closing.

    `remembered`: when the progress first saw it closed, if HappyTalk sends no closing time.
    """
    if not is_closed(record):
        return False
    rated = record.get("vote_score") not in (None, "")
    return rated or read_at >= _closing(record, read_at, remembered) + bounds.grace


def _closing(
    record: Mapping[str, Any], read_at: dt.datetime, remembered: dt.datetime | None
) -> dt.datetime:
    return instant(record.get("complate_date")) or remembered or read_at


def missed(
    progress: Progress, unit: Unit, now: dt.datetime, bounds: Bounds, *, track: bool
) -> bool:
    """HappyTalk did not know the room when asked (-503): a glitch, or a deletion.

    The first time, the room is asked again next run (`missing`), however old it is; the
    second time in a row it is given up (deleted). `track` as in `observe`.

    Returns:
        True if the room was given up.
    """
    known = progress.get(unit)
    if known is not None and known.why is Why.MISSING:
        progress.give_up(known)
        return True
    if known is not None or track:
        closed = known.closed if known is not None else None
        progress.set_aside(unit, Why.MISSING, now, bounds=bounds, closed=closed)
    return False
