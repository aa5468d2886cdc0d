"""What a HappyTalk row becomes: a record with timezone-aware timestamps, in oldest-first order.

This is the one place where timestamps get their timezone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import TYPE_CHECKING, Any, cast

from singer_sdk import typing as th

from tap_happytalk.errors import HappyTalkResponseError

if TYPE_CHECKING:
    from tap_happytalk.windows import DayWindow

WALL_CLOCK_LENGTH = len("2022-05-26 17:14:28")
WALL_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
# What HappyTalk sends for a time that has not happened (PHP's zero date), or none at all.
NO_TIME = (None, "", "0000-00-00 00:00:00")
TEXT_TYPES = frozenset({str, type(None)})
EXTRA_FIELDS = "extra_fields"
# Every stream's place for what HappyTalk sends beyond its schema (it adds fields over time).
# An object without `properties`: the SDK's flattening then keeps it whole, as JSON text,
# where an empty `properties` would make it drop the column.
EXTRA_FIELDS_PROPERTY = th.Property(
    EXTRA_FIELDS,
    th.CustomType({"type": ["object", "null"], "additionalProperties": True}),
    description="Fields HappyTalk sent that this schema does not describe, by name, as sent "
    "(null when there were none). Kept so that nothing HappyTalk adds is lost.",
)

logger = logging.getLogger(__name__)


class RowConverter:
    """Turns HappyTalk rows into records, for one run.

    Timestamps: naive wall-clock strings become RFC 3339 with the offset of the zone. The
    offset is looked up once per hour of wall-clock time (zones change offset on the hour),
    then the string is assembled; an ambiguous hour takes its earlier offset.
    """

    def __init__(self, zone: dt.tzinfo, fields: frozenset[str]) -> None:
        """Convert into `zone`, keeping `fields` (the stream's schema properties)."""
        self.zone = zone
        self.fields = fields - {EXTRA_FIELDS}  # what HappyTalk sends goes there, not itself
        self._offsets: dict[str, str] = {}
        self.unknown_fields: set[str] = set()
        self.json_texts: set[str] = set()  # fields sent as something else than a string

    def aware(self, value: Any) -> str | None:  # noqa: ANN401 - whatever HappyTalk sent
        """`2022-05-26 17:14:28` -> `2022-05-26T17:14:28+09:00`; None if not `Y-m-d H:i:s`.

        Exactly that shape: `fromisoformat` alone would also take `2024-03-01 12:00+09` or
        ISO week dates, differently from one Python version to the next. An hour seen before
        is known valid, so then only its minutes and seconds are checked: this runs twice
        for every record.
        """
        if type(value) is not str or len(value) != WALL_CLOCK_LENGTH:
            return None
        hour = value[:13]
        offset = self._offsets.get(hour)
        if offset is None:
            offset = self._offset(value)
            if offset is None:
                return None
            self._offsets[hour] = offset
        elif not (
            value[13] == ":" == value[16]
            and value[14] < "6"
            and value[17] < "6"
            and value[14:16].isdigit()
            and value[17:].isdigit()
            and value[14:16].isascii()
            and value[17:].isascii()
        ):
            return None
        return f"{value[:10]}T{value[11:]}{offset}"

    def _offset(self, value: str) -> str | None:
        """The UTC offset of `zone` at the wall-clock time `value`, if it is a valid one."""
        if WALL_CLOCK.fullmatch(value) is None:
            return None
        try:
            wall_clock = dt.datetime.fromisoformat(value)
        except ValueError:  # a month 13, a 25th hour
            return None
        return wall_clock.replace(tzinfo=self.zone, fold=0).isoformat()[WALL_CLOCK_LENGTH:]

    def records(
        self, answers: list[tuple[DayWindow, list[dict[str, Any]]]], window: DayWindow
    ) -> list[dict[str, Any]]:
        """A window's records from HappyTalk's answers for its pieces, oldest first.

        `answers` pairs each piece of `window` that was asked (the window itself, unless it had
        to be split) with the rows HappyTalk sent for it, newest first. Ties on
        `request_date` are broken by numeric `id`, so the order is total and the same on every
        run. The rows are changed in place:
        - the two timestamps get the offset of `zone`; `apply_date` may be empty or PHP's zero
          date, which become null;
        - every other field is a string as HappyTalk sent it; anything else (a number, and with
          a warning a boolean, a list or an object) becomes its JSON text;
        - fields the schema does not describe move, as sent, into `extra_fields` (and are
          named once in a warning);
        - a row dated outside the piece it was asked for is left out, with one warning per
          window that counts them: the piece its date falls in carries it.

        Raises:
            HappyTalkResponseError: A row has no `id`, no usable `request_date`, or a
                malformed `apply_date`.
        """
        keyed: list[tuple[str, int, str, dict[str, Any]]] = []
        outside: list[tuple[object, object]] = []
        for piece, rows in answers:
            first, last = piece.api_start, piece.api_end
            for row in rows:
                ident = row.get("id")
                if ident is None or ident == "":
                    msg = f"HappyTalk sent a record without an id for {window}"
                    raise HappyTalkResponseError(msg)
                sent = row.get("request_date")
                request_date = self.aware(sent)
                if request_date is None:
                    msg = (
                        f"HappyTalk sent record {ident} for {window} with request_date "
                        f"{sent!r}, not Y-m-d H:i:s"
                    )
                    raise HappyTalkResponseError(msg)
                if not first <= cast("str", sent) <= last:
                    outside.append((ident, sent))
                    continue
                if not row.keys() <= self.fields or not set(map(type, row.values())) <= TEXT_TYPES:
                    self._fit(row)
                row["request_date"] = request_date
                # Mostly the request's own time, or another time: convert it straight; anything
                # else (nothing, PHP's zero date, a malformed one) is looked at closely.
                applied = row.get("apply_date")
                row["apply_date"] = (
                    request_date
                    if applied == sent
                    else self.aware(applied) or self._optional_time(row, "apply_date", window)
                )
                # Within one window the offset only changes when the wall clock repeats an
                # hour, so the wall-clock text orders the rows. A numeric string with more
                # digits is the larger number; this avoids int() on ids.
                ident = row["id"]
                keyed.append((cast("str", sent), len(ident), ident, row))
        if outside:
            ident, sent = outside[0]
            logger.warning(
                "Window %s: HappyTalk sent %d records dated outside the range asked for "
                "(first: id %s at %s); left out, since the window they belong to carries them",
                window,
                len(outside),
                ident,
                sent,
            )
        keyed.sort(key=_without_row)
        return [entry[3] for entry in keyed]

    def record(
        self,
        row: dict[str, Any],
        what: str,
        *,
        required_time: str,
        optional_times: tuple[str, ...] = (),
        string_lists: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """One row of a chat call as a record, changed in place, as `records` does it.

        `required_time` must be a `Y-m-d H:i:s` time; `optional_times` may also be absent or
        PHP's zero date (then null); `string_lists` are lists of strings (a room's `tags`).

        Raises:
            HappyTalkResponseError: The row has no `id`, or a time that is not
                `Y-m-d H:i:s`.
        """
        ident = row.get("id")
        if ident is None or ident == "":
            msg = f"HappyTalk sent a record without an id for {what}"
            raise HappyTalkResponseError(msg)
        self._fit(row, string_lists)
        sent = row.get(required_time)
        row[required_time] = self.aware(sent)
        if row[required_time] is None:
            msg = f"HappyTalk sent record {ident} for {what} with {required_time} {sent!r}, "
            raise HappyTalkResponseError(msg + "not Y-m-d H:i:s")
        for name in optional_times:
            row[name] = self._optional_time(row, name, what)
        return row

    def _fit(self, row: dict[str, Any], string_lists: frozenset[str] = frozenset()) -> None:
        """Keep fields the schema does not describe apart; make other values their text."""
        if not row.keys() <= self.fields:
            _keep_unknown_fields(row, self.fields, self.unknown_fields)
        for name, value in row.items():
            if name == EXTRA_FIELDS:
                continue
            if name in string_lists:
                row[name] = _as_texts(name, value, self.json_texts)
            elif type(value) is not str and value is not None:
                row[name] = _as_text(name, value, self.json_texts)

    def _optional_time(self, row: dict[str, Any], name: str, window: object) -> str | None:
        """A timestamp that may be absent; anything but absent or `Y-m-d H:i:s` is refused.

        Raises:
            HappyTalkResponseError: The value is there but not a `Y-m-d H:i:s` time.
        """
        value = row.get(name)
        if value in NO_TIME:
            return None
        converted = self.aware(value)
        if converted is None:
            msg = (
                f"HappyTalk sent record {row.get('id')} for {window} with {name} {value!r}, "
                "not Y-m-d H:i:s"
            )
            raise HappyTalkResponseError(msg)
        return converted


def _as_texts(name: str, value: object, reported: set[str]) -> list[str] | None:
    """A list of strings (other items as their JSON text), or null; anything else, as one."""
    if value is None:
        return None
    if not isinstance(value, list):
        return [_as_text(name, value, reported)]
    return [item if type(item) is str else _as_text(name, item, reported) for item in value]


def _as_text(name: str, value: object, reported: set[str]) -> str:
    """What HappyTalk sent where the schema says string, as its JSON text: nothing is lost.

    A number is expected (HappyTalk documents strings and sends numbers at times); a boolean,
    a list or an object is kept the same way, with one warning per field, since its shape may
    be changing (HappyTalk announces new formats, such as template messages').
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if name not in reported:
        reported.add(name)
        logger.warning(
            "HappyTalk sent %s as %s, not a string: kept as its JSON text",
            name,
            type(value).__name__,
        )
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _keep_unknown_fields(row: dict[str, Any], known: frozenset[str], reported: set[str]) -> None:
    """Move the fields the schema does not describe into `extra_fields`, as HappyTalk sent them.

    A field HappyTalk itself calls `extra_fields` goes there too, under its own name.
    """
    unknown = row.keys() - known
    row[EXTRA_FIELDS] = {name: row.pop(name) for name in sorted(unknown)}
    if not unknown <= reported:
        reported.update(unknown)
        logger.warning(
            "HappyTalk sent fields the schema does not describe, kept in %s: %s",
            EXTRA_FIELDS,
            ", ".join(sorted(unknown)),
        )


def _without_row(entry: tuple[str, int, str, dict[str, Any]]) -> tuple[str, int, str]:
    return entry[:3]
