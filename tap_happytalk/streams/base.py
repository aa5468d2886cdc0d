"""What every HappyTalk stream stands on: settings, the stop, the bookmark, the record path."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from singer_sdk import Stream
from singer_sdk.exceptions import MappingError, SyncLifecycleSignal
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from tap_happytalk.errors import TapHappyTalkError
from tap_happytalk.metrics import ProgressMetric, log_units
from tap_happytalk.progress import MOST_UNITS, Bounds, Kind, Why
from tap_happytalk.progress_log import ProgressLog, duration
from tap_happytalk.settings import Settings, parse_instant
from tap_happytalk.transport import HappyTalkClient
from tap_happytalk.windows import DayWindow, day_windows, to_wall_clock

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_happytalk.progress import Pending, Progress
    from tap_happytalk.tap import TapHappyTalk

logger = logging.getLogger(__name__)

# A range longer than this is worth a WARNING: it costs a request a day at least, for years.
LONG_RANGE = dt.timedelta(days=366)


class ExplainedErrorsStream(Stream):
    """A stream that leaves the SDK's generic error line out where the tap says more."""

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """Log as the SDK does, less its generic line before an error the tap explains.

        The SDK logs "An unhandled error occurred while syncing" for any error: also for the
        tap's own errors and failing stream maps, which the command-line edge reports in one
        line, and for the planned stop after one record of `--test`.
        """
        explained = (TapHappyTalkError, MappingError, SyncLifecycleSignal)
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], explained):
            return
        super().log(message, *args, level=level, **kwargs)


class HappyTalkStream(ExplainedErrorsStream):
    """What every HappyTalk stream shares: settings, the stop, the bookmark, the record path.

    The bookmark (`replication_key_value`) is the instant from which a later run resumes,
    inclusive: the point of the stream's progress (`tap_happytalk.progress`). A stream moves it
    only when a unit is done or at a stop, never per record, and writes STATE right after the
    unit's last record.
    """

    # Every field is a string as HappyTalk sent it, or a value records.py has made: there is
    # nothing to conform, and conforming costs a third of the time spent per record.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap) -> None:
        """Build the stream."""
        super().__init__(tap=tap)
        self._stop_requested = threading.Event()
        self._client: HappyTalkClient | None = None
        self._extracted_at = dt.datetime.now(dt.timezone.utc)

    def request_stop(self) -> None:
        """End the sync at the next record boundary, and abandon retries in progress.

        Safe to call from a signal handler: it only sets flags.
        """
        self._stop_requested.set()
        if self._client is not None:
            self._client.close()

    @cached_property
    def settings(self) -> Settings:
        """The checked settings (the tap has already validated them)."""
        return Settings.from_config(self.config)

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """Pick the later of bookmark and start_date, reading a naive start_date in `timezone`.

        The SDK would read it as UTC; this feeds only its "starting bookmark" log line and
        state marker, while `sync_range` decides what is requested.
        """
        zone = self.settings.zone
        return max(value, start_date_value, key=lambda text: parse_instant(text, zone))

    @cached_property
    def bounds(self) -> Bounds:
        """How long the units of this stream's progress are asked again (the settings)."""
        settings = self.settings
        return Bounds(
            failed_for=settings.set_aside,
            open_for=settings.open_room_recheck,
            grace=settings.closed_room_grace,
        )

    def _expire(self, stream: str, progress: Progress, now: dt.datetime) -> None:
        """Before a run asks anything again: units asked again long enough leave."""
        confirmed = progress.expire(now, self.bounds)
        if confirmed:
            self.logger.info(
                "%s: %d windows answered without data, asked again for %d hours since, are "
                "taken as truly empty (unconfirmed no more)",
                stream,
                len(confirmed),
                self.bounds.confirm_for // dt.timedelta(hours=1),
            )

    def _report(self, progresses: dict[str, Progress]) -> None:
        """At a run's end: what each stream set aside or gave up, one line each, with metrics.

        The tap learns how many units failed (set aside, or given up by this run): then the
        data is incomplete, and the run's exit code says so.
        """
        tap = cast("TapHappyTalk", self._tap)
        for stream, progress in progresses.items():
            given_up = progress.take_given_up()
            if given_up:
                self.logger.warning(
                    "%s: %s given up, no longer asked again: %s",
                    stream,
                    _units(len(given_up)),
                    "; ".join(self._given_up_words(given_up)),
                )
                log_units(stream, ProgressMetric.UNITS_GIVEN_UP, _by_why(given_up))
            held = {Why.FAILED.value: 0} | _by_why(progress.pending())  # 0 failed, said too
            log_units(stream, ProgressMetric.UNITS_SET_ASIDE, held)
            failed = progress.pending(Why.FAILED)
            if failed:
                self.logger.warning(
                    "%s: %s set aside (failed): %s; the data is incomplete: every later "
                    "run asks them again, for at most set_aside_days (%d) since each first failed",
                    stream,
                    _units(len(failed)),
                    _named(failed),
                    self.bounds.failed_for.days,
                )
            unconfirmed = progress.pending(Why.UNCONFIRMED)
            if unconfirmed:
                self.logger.info(
                    "%s: %d windows answered without data (unconfirmed): taken as empty for "
                    "now, asked again by later runs for %d hours: %s",
                    stream,
                    len(unconfirmed),
                    self.bounds.confirm_for // dt.timedelta(hours=1),
                    _named(unconfirmed),
                )
            lost = sum(1 for pending in given_up if pending.why is Why.FAILED)
            tap.note_incomplete(stream, len(failed) + lost)

    def _given_up_words(self, given_up: list[Pending]) -> list[str]:
        counts = _by_why(given_up)
        words = {
            Why.OPEN.value: f"rooms still open open_room_recheck_days "
            f"({self.bounds.open_for.days}) after opening, each as last sent",
            Why.MISSING.value: "rooms HappyTalk did not know twice in a row (deleted), each "
            "as last sent",
            Why.FAILED.value: f"units that kept failing for set_aside_days "
            f"({self.bounds.failed_for.days}), or past the {MOST_UNITS:,} a state holds: "
            f"their data never came ({_named(given_up, Why.FAILED)})",
            Why.UNCONFIRMED.value: "windows answered without data, past the "
            f"{MOST_UNITS:,} units a state holds",
        }
        return [f"{count} {why} ({words[why]})" for why, count in counts.items()]

    def bookmark(self, context: Context | None) -> dt.datetime | None:
        """The instant a previous run said to resume from, if the state has one."""
        state = self.get_context_state(context)
        value = state.get("replication_key_value")
        if not value or state.get("replication_key") != self.replication_key:
            return None
        return parse_instant(str(value), self.settings.zone)

    def sync_range(
        self, bookmark: dt.datetime | None, now: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of this run, as aware instants.

        Start: the later of `start_date` and the bookmark minus the lookback. End: `end_date`,
        but never past now less `end_margin`, which leaves HappyTalk time to record what
        happened last (the next run continues from there).
        """
        settings = self.settings
        start = settings.start
        if bookmark is not None:
            start = max(start, bookmark - settings.lookback)
        settled = now - settings.end_margin
        end = min(settings.end, settled) if settings.end is not None else settled
        return start, end

    def _new_client(self, api_url: str) -> HappyTalkClient:
        """A client for one sync: its own connections, and the run's pacer."""
        settings = self.settings
        self._client = HappyTalkClient(
            api_url=api_url,
            token=settings.token,
            trust_proxy_env=settings.trust_proxy_env,
            timeout_seconds=settings.request_timeout_seconds,
            max_retries=settings.max_retries,
            user_agent=f"{self.tap_name}/{self._tap.plugin_version}",
            pacer=cast("TapHappyTalk", self._tap).pacer,
            stream_name=self.name,
        )
        return self._client

    def _end_sync(self, client: HappyTalkClient, *pools: Generator[Any, None, None]) -> None:
        """After a sync, whatever ended it: nothing in flight holds the run open.

        The pools' threads are left to finish the requests they are in, and their answers are
        dropped; retries give up; the request metrics are logged.
        """
        client.abandon()
        for pool in pools:
            pool.close()
        client.metrics.close()
        self._client = None

    def _windows(
        self, bookmark: dt.datetime | None, hours: int
    ) -> tuple[dt.datetime, dt.datetime, list[DayWindow]]:
        """This run's range from `bookmark` and its windows of at most `hours`, logged.

        A range of more than a year is a WARNING saying what it costs, and a `start_date` in
        the future one saying that nothing comes until then: both are most often a typo.
        """
        settings = self.settings
        now = dt.datetime.now(dt.timezone.utc)
        start, end = self.sync_range(bookmark, now)
        windows = day_windows(
            to_wall_clock(start, settings.zone), to_wall_clock(end, settings.zone), hours
        )
        first, last = _readable(start, settings.zone), _readable(end, settings.zone)
        if windows:
            self.logger.info(
                "Extracting %s to %s (%s) in %d window%s",
                first,
                last,
                settings.zone,
                len(windows),
                "" if len(windows) == 1 else "s",
            )
            if end - start > LONG_RANGE:
                days = len({window.start.date() for window in windows})
                self.logger.warning(
                    "%s: %s to %s (%s) is %s days, more than a year: %s; the progress lines "
                    "say the time left as it goes. A later start_date (or an end_date) "
                    "narrows it",
                    self.name,
                    first,
                    last,
                    settings.zone,
                    f"{days:,}",
                    self._cost(len(windows)),
                )
        elif settings.start > now:
            self.logger.warning(
                "%s: start_date %s (%s) is in the future: nothing is extracted until then; "
                "check the start_date setting",
                self.name,
                _readable(settings.start, settings.zone),
                settings.zone,
            )
        else:
            self.logger.info(
                "Nothing to extract: %s is not before %s (%s)", first, last, settings.zone
            )
        return start, end, windows

    def _cost(self, windows: int) -> str:
        """What reading `windows` windows costs, in words: at least a request each."""
        return f"at least {windows:,} requests, one a window{self._at_most_per_minute(windows)}"

    def _at_most_per_minute(self, requests: int) -> str:
        """How long `requests` take at least under `max_requests_per_minute`, if it is set."""
        most = self.settings.max_requests_per_minute
        if not most:
            return ""
        return (
            f", which take at least {duration(requests * 60 / most)} at "
            f"max_requests_per_minute ({most:,})"
        )

    def _progress_log(self, days: Iterable[dt.date], client: HappyTalkClient) -> ProgressLog:
        """This run's progress lines: a line every interval, and one at the end."""
        return ProgressLog(
            self.name,
            days,
            lambda: client.metrics.requests,
            self.logger,
            in_flight=client.in_flight_level,
        )

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No child streams: hand nothing down (the SDK would copy every record for them)."""
        return ()

    def _move_bookmark(self, value: str, context: Context | None) -> None:
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value

    # The record path. The SDK's generic work for every record (selection, stream maps, a
    # bookmark update, a fresh timestamp) was most of a record's cost. Here the window is the
    # unit of progress, so that work is done once per window; whenever a stream map,
    # flattening or a deselected field could change a record, the SDK's own path runs.

    @cached_property
    def _records_pass_through(self) -> bool:
        """True when no stream map, flattening or deselected field changes a record."""
        maps = self.stream_maps
        return (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
            and maps[0].stream_alias == self.name
            and all(self.mask.values())
        )

    @override
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The record as it is, stamped with the time the tap read its window."""
        if not self._records_pass_through:
            yield from super()._generate_record_messages(record)
            return
        yield RecordMessage(
            stream=self.name,
            record=record,
            version=self._stream_version,
            time_extracted=self._extracted_at,
        )

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Nothing per record: the bookmark moves at each window's end and at a stop."""


def _readable(instant: dt.datetime, zone: dt.tzinfo) -> str:
    """`2024-03-01 09:30` (seconds only when there are some) on the wall clock of `zone`."""
    wall_clock = to_wall_clock(instant, zone)
    return (
        f"{wall_clock:%Y-%m-%d %H:%M:%S}" if wall_clock.second else f"{wall_clock:%Y-%m-%d %H:%M}"
    )


def _by_why(units: list[Pending]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pending in units:
        counts[pending.why.value] = counts.get(pending.why.value, 0) + 1
    return counts


def _named(units: list[Pending], why: Why | None = None, most: int = 5) -> str:
    """The first few units' names (`room 123`, `window 2024-03-01...`), and how many more."""
    chosen = [pending for pending in units if why is None or pending.why is why]
    names = [
        pending.unit.key if pending.unit.kind is Kind.ROOM else _window_words(pending)
        for pending in chosen[:most]
    ]
    more = len(chosen) - most
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _window_words(pending: Pending) -> str:
    end = pending.unit.end
    zone = pending.unit.start.tzinfo
    last = (end.astimezone(zone) if end is not None else pending.unit.start) - dt.timedelta(
        seconds=1
    )
    return f"window {pending.unit.start:%Y-%m-%d %H:%M:%S}..{last:%H:%M:%S}"


def _units(count: int) -> str:
    """`1 unit`, `2 units`: the count in the logs' words."""
    return "1 unit" if count == 1 else f"{count} units"
