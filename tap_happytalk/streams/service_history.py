"""`service_history`: HappyTalk's audit log, a window of at most one day at a time.

A window HappyTalk keeps failing to answer (timeouts, 5xx, answers cut off) is asked again in
halves, down to `SMALLEST_SPLIT`: a day too large to answer in time still comes, in pieces.
One that still fails, or answers a shape HappyTalk does not document, is set aside in the
stream's progress (`failed`) and the run goes on; one answered without data is taken as empty
for now (`unconfirmed`). Later runs ask both again first (`tap_happytalk.progress`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_happytalk.answers import service_history_rows
from tap_happytalk.errors import (
    HappyTalkResponseError,
    HappyTalkUnavailableError,
    UnitUnavailableError,
)
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.progress import Kind, Progress, Unit, Why
from tap_happytalk.records import EXTRA_FIELDS_PROPERTY, RowConverter
from tap_happytalk.streams.base import HappyTalkStream
from tap_happytalk.streams.unit_failures import (
    FAILED_IN_A_ROW,
    FailureStreak,
    UnitFailed,
    unit_failure,
)
from tap_happytalk.transport import RetriesExhaustedError
from tap_happytalk.windows import DayWindow, to_instant, to_wall_clock

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

    from tap_happytalk.endpoints import Api
    from tap_happytalk.transport import HappyTalkClient

# A day HappyTalk keeps failing to answer is asked again in halves, down to this size; the
# halves get one retry each, so a hopeless day costs a bounded number of requests.
SMALLEST_SPLIT = dt.timedelta(minutes=15)
SPLIT_RETRIES = 1

logger = logging.getLogger(__name__)

SCHEMA = th.PropertiesList(
    th.Property("id", th.StringType, required=True, description="Unique id of the entry."),
    th.Property(
        "type",
        th.StringType,
        description="How the event came about: M manual (수동), A automatic (자동).",
    ),
    th.Property(
        "kind",
        th.StringType,
        description="Kind of event: A archive (아카이브), K key issued (키 발급), "
        "S manager action (매니저 액션).",
    ),
    th.Property(
        "request_user",
        th.StringType,
        description="Who caused the event: an agent or manager login id.",
    ),
    th.Property(
        "request_content",
        th.StringType,
        description="What happened, as HappyTalk wrote it (Korean free text).",
    ),
    th.Property(
        "request_date",
        th.DateTimeType,
        required=True,
        description="When the event happened, with the offset of `timezone` "
        "(e.g. 2022-05-26T17:14:28+09:00). Replication key.",
    ),
    th.Property("apply_id", th.StringType, description="Id the event was applied to."),
    th.Property(
        "apply_content",
        th.StringType,
        description="Result of the event (e.g. 성공 success, 로그인 login).",
    ),
    th.Property(
        "apply_date",
        th.DateTimeType,
        description="When the event was applied, with the offset of `timezone`; null when "
        "HappyTalk sends no date.",
    ),
    EXTRA_FIELDS_PROPERTY,
).to_dict()


def post_window(
    client: HappyTalkClient, api: Api, window: DayWindow
) -> list[tuple[DayWindow, bytes]]:
    """HappyTalk's answers for a service-history `window`, each with the piece it answers.

    One answer, or one per piece when HappyTalk kept timing out or failing with 5xx on the
    whole window: then it is asked again in halves, down to `SMALLEST_SPLIT`.

    Raises:
        HappyTalkUnavailableError: HTTP failures outlasted every retry and every split.
    """
    return _post_or_split(client, api, window, None, piece=False)


def _post_or_split(
    client: HappyTalkClient,
    api: Api,
    window: DayWindow,
    retries: int | None,
    *,
    piece: bool,
) -> list[tuple[DayWindow, bytes]]:
    body = {**api.body, "start_date": window.api_start, "end_date": window.api_end}
    kind = "split" if piece else "window"
    try:
        answer = client.post(api, body, str(window), kind=kind, retries=retries)
    except RetriesExhaustedError as exhausted:
        splittable = exhausted.splittable and not client.stopping
        halves = window.halves(SMALLEST_SPLIT) if splittable else None
        if halves is None:
            split = " (split as small as the tap goes)" if piece and splittable else ""
            raise UnitUnavailableError(f"{exhausted}{split}") from None
        logger.warning(
            "Window %s: HappyTalk keeps failing (%s); asking for it in halves",
            window,
            exhausted.problem,
        )
        return [
            piece_answer
            for half in halves
            for piece_answer in _post_or_split(client, api, half, SPLIT_RETRIES, piece=True)
        ]
    return [(window, answer)]


class ServiceHistoryStream(HappyTalkStream):
    """Every service-history event, resumable at any completed window.

    The windows to ask again come first (older than the rest), then the windows from the
    point on, oldest first. The point moves at the end of each window, to the window's end,
    and at a stop, to the `request_date` of the last record written.
    """

    name = "service_history"
    primary_keys = ("id",)
    replication_key = "request_date"
    # Records leave oldest first within a run, so a run's state is resumable wherever it stops.
    is_sorted = True
    schema = SCHEMA

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Ask each window in order, emit its records oldest first, then mark it done."""
        settings = self.settings
        now = dt.datetime.now(dt.timezone.utc)
        progress = Progress.from_state(self.get_context_state(context), self.bookmark(context), now)
        plan = self._plan(progress, now, context)
        if not plan:
            self._report({self.name: progress})
            return
        client = self._new_client(settings.api_url)
        converter = RowConverter(settings.zone, frozenset(SCHEMA["properties"]))
        endpoint = settings.endpoint
        streak = FailureStreak()

        def ask(item: tuple[DayWindow, bool]) -> list[tuple[DayWindow, bytes]] | UnitFailed:
            return _ask_window(client, endpoint, item[0])

        self.logger.info("Asking %s", settings.api_url + endpoint.path)
        meter = self._progress_log([window.start.date() for window, _ in plan], client)
        answers = map_in_order(
            ask,
            plan,
            settings.max_concurrent_requests,
            self._stop_requested,
            client.allowed_in_flight,
        )
        try:
            for number, ((window, again), pieces) in enumerate(answers, start=1):
                records, why = self._outcome(client, converter, window, pieces)
                self._extracted_at = dt.datetime.now(dt.timezone.utc)
                for index, record in enumerate(records):
                    if self._stop_requested.is_set():
                        if index and not again:  # resume at the last record, inclusive
                            self._move_bookmark(records[index - 1]["request_date"], context)
                        return  # the SDK then writes the final STATE
                    yield record
                self._window_done(progress, window, why, again=again, context=context)
                self.logger.debug(
                    "Window %s%s: %d records (%d of %d)",
                    window,
                    " (asked again)" if again else "",
                    len(records),
                    number,
                    len(plan),
                )
                meter.unit_done(window.start.date())
                if self._streak_over(streak, why, again=again):
                    break
        except HappyTalkUnavailableError:
            if not self._stop_requested.is_set():
                raise
            # The stop abandoned this window's retries: end as if it had not been reached.
        finally:
            meter.end()
            self._end_sync(client, answers)
        self._report({self.name: progress})

    def _streak_over(self, streak: FailureStreak, why: Why | None, *, again: bool) -> bool:
        """Whether windows asked for the first time have failed in a row long enough to stop."""
        if why is not Why.FAILED:
            streak.answered()
            return False
        if again or not streak.failed():
            return False
        self.logger.warning(
            "%s: %d windows failed in a row: HappyTalk looks down; this stream stops here for "
            "this run, its windows set aside, and the next run goes on from them",
            self.name,
            FAILED_IN_A_ROW,
        )
        return True

    def _plan(
        self, progress: Progress, now: dt.datetime, context: Context | None
    ) -> list[tuple[DayWindow, bool]]:
        """This run's windows, each with whether it is one asked again: those first."""
        zone = self.settings.zone
        held = len(progress)
        self._expire(self.name, progress, now)
        if len(progress) != held:
            self._checkpoint(progress, context)
        start, _, windows = self._windows(progress.point, self.settings.window_hours)
        plan = [
            (DayWindow(to_wall_clock(unit.start, zone), to_wall_clock(unit.end, zone)), True)
            for pending in progress.due(now, self.bounds)
            if (unit := pending.unit).kind is Kind.WINDOW
            and unit.end is not None
            and unit.start < start
        ]
        if plan:
            self.logger.info("Windows to ask again: %d", len(plan))
        return plan + [(window, False) for window in windows]

    def _outcome(
        self,
        client: HappyTalkClient,
        converter: RowConverter,
        window: DayWindow,
        pieces: list[tuple[DayWindow, bytes]] | UnitFailed,
    ) -> tuple[list[dict[str, Any]], Why | None]:
        """A window's records, and why it is to be asked again (None: it is done)."""
        rows = self._rows(client, pieces)
        records: list[dict[str, Any]] = []
        if not isinstance(rows, UnitFailed):
            try:
                records = converter.records([(piece, r or []) for piece, r in rows], window)
            except HappyTalkResponseError as error:
                rows = UnitFailed(client.redact(str(error)))
        if isinstance(rows, UnitFailed):
            self.logger.warning("%s; set aside, asked again next run", rows.problem)
            return [], Why.FAILED
        unconfirmed = any(piece_rows is None for _, piece_rows in rows)
        return records, Why.UNCONFIRMED if unconfirmed else None

    def _window_done(
        self,
        progress: Progress,
        window: DayWindow,
        why: Why | None,
        *,
        again: bool,
        context: Context | None,
    ) -> None:
        """After a window's last record: its progress, then STATE."""
        zone = self.settings.zone
        unit = Unit.window(to_instant(window.start, zone), to_instant(window.end, zone))
        now = dt.datetime.now(dt.timezone.utc)
        if why is None:
            progress.settle(unit)
        else:
            progress.set_aside(unit, why, now, bounds=self.bounds)
        if not again:
            _settle_within(progress, unit, keep=unit if why else None)
            progress.done(unit.end or unit.start)
        self._checkpoint(progress, context)

    @staticmethod
    def _rows(
        client: HappyTalkClient, pieces: list[tuple[DayWindow, bytes]] | UnitFailed
    ) -> list[tuple[DayWindow, list[dict[str, Any]] | None]] | UnitFailed:
        """Each piece's rows (None: answered without data), or the unit's failure."""
        if isinstance(pieces, UnitFailed):
            return pieces
        try:
            return [
                (piece, service_history_rows(client.answer(content, str(piece)), piece))
                for piece, content in pieces
            ]
        except HappyTalkResponseError as error:
            return UnitFailed(client.redact(str(error)))

    def _checkpoint(self, progress: Progress, context: Context | None) -> None:
        """The stream's state as its progress now stands, then STATE (after whole windows)."""
        state = self.get_context_state(context)
        if progress.point is not None:
            self._move_bookmark(progress.point.isoformat(), context)
        state.update(progress.to_state())
        self.state_manager.is_flushed = False
        self._write_state_message()


def _ask_window(
    client: HappyTalkClient, api: Api, window: DayWindow
) -> list[tuple[DayWindow, bytes]] | UnitFailed:
    """`post_window`, or the failure of the window when it kept failing."""
    try:
        return post_window(client, api, window)
    except HappyTalkUnavailableError as error:
        failed = unit_failure(error, client)
        if failed is None:
            raise
        return failed


def _settle_within(progress: Progress, window: Unit, keep: Unit | None) -> None:
    """Windows to ask again that a window just read covers leave: it was asked in their place."""
    end = window.end or window.start
    for pending in progress.pending():
        unit = pending.unit
        covered = unit.kind is Kind.WINDOW and unit.end is not None and window.start <= unit.start
        if covered and unit.end is not None and unit.end <= end and unit != keep:
            progress.settle(unit)
