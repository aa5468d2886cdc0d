"""What a HappyTalk row becomes: a record with timezone-aware timestamps, in oldest-first order.

This is the one place where timestamps get their timezone.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from tap_happytalk.errors import HappyTalkResponseError

if TYPE_CHECKING:
    from tap_happytalk.windows import DayWindow

WALL_CLOCK_LENGTH = len("2022-05-26 17:14:28")


def to_records(
    rows: list[dict[str, Any]], zone: dt.tzinfo, window: DayWindow
) -> list[dict[str, Any]]:
    """Sort a window's rows oldest first and give their timestamps the offset of `zone`.

    HappyTalk sends rows newest first; ties on `request_date` are broken by numeric `id`, so
    the order is total and the same on every run. Fields other than the two timestamps are
    kept exactly as sent.

    Raises:
        HappyTalkResponseError: A row has no `id` or no usable `request_date`.
    """
    for row in rows:
        _check_row(row, window)
    rows = sorted(rows, key=_oldest_first)
    records = []
    for row in rows:
        record = dict(row)
        record["request_date"] = _aware(row["request_date"], zone)
        record["apply_date"] = _aware_or_none(row.get("apply_date"), zone)
        records.append(record)
    return records


def _oldest_first(row: dict[str, Any]) -> tuple[str, int, str]:
    # A numeric string with more digits is the larger number; this avoids int() on ids.
    ident = str(row["id"])
    return (row["request_date"], len(ident), ident)


def _check_row(row: dict[str, Any], window: DayWindow) -> None:
    ident = row.get("id")
    if ident in {None, ""}:
        msg = f"HappyTalk sent a record without an id for {window}"
        raise HappyTalkResponseError(msg)
    value = row.get("request_date")
    if not isinstance(value, str) or _parse_wall_clock(value) is None:
        msg = (
            f"HappyTalk sent record {ident} for {window} with request_date {value!r}, "
            "not Y-m-d H:i:s"
        )
        raise HappyTalkResponseError(msg)


def _parse_wall_clock(value: str) -> dt.datetime | None:
    if len(value) != WALL_CLOCK_LENGTH or value[10] != " ":
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _aware(value: str, zone: dt.tzinfo) -> str:
    wall_clock = _parse_wall_clock(value)
    if wall_clock is None:  # pragma: no cover - _check_row has refused it
        raise ValueError(value)
    return wall_clock.replace(tzinfo=zone).isoformat()


def _aware_or_none(value: Any, zone: dt.tzinfo) -> str | None:  # noqa: ANN401 - as sent
    """`apply_date` is secondary: a value that is not a timestamp becomes null, not an error.

    That covers a missing value, "" and PHP's "0000-00-00 00:00:00".
    """
    if not isinstance(value, str) or _parse_wall_clock(value) is None:
        return None
    return _aware(value, zone)
