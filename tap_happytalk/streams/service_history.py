"""`service_history`: HappyTalk's audit log, a window of at most one day at a time.

A window HappyTalk keeps failing to answer (timeouts, 5xx, answers cut off) is asked again in
halves, down to `SMALLEST_SPLIT`: a day too large to answer in time still comes, in pieces.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_happytalk.answers import service_history_rows
from tap_happytalk.errors import HappyTalkUnavailableError
from tap_happytalk.ordered_pool import map_in_order
from tap_happytalk.records import EXTRA_FIELDS_PROPERTY, RowConverter
from tap_happytalk.streams.base import HappyTalkStream
from tap_happytalk.transport import RetriesExhaustedError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

    from tap_happytalk.endpoints import Api
    from tap_happytalk.transport import HappyTalkClient
    from tap_happytalk.windows import DayWindow

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
            raise HappyTalkUnavailableError(f"{exhausted}{split}") from None
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
    """Every service-history event, oldest first, resumable at any completed window.

    The bookmark moves at the end of each window, to the window's end, and at a stop, to the
    `request_date` of the last record written.
    """

    name = "service_history"
    primary_keys = ("id",)
    replication_key = "request_date"
    # Records leave oldest first, so a run's state is resumable wherever it stops.
    is_sorted = True
    schema = SCHEMA

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Request each window in order, emit its records oldest first, then mark it done."""
        settings = self.settings
        _, _, windows = self._windows(self.bookmark(context), settings.window_hours)
        if not windows:
            return
        client = self._new_client(settings.api_url)
        converter = RowConverter(settings.zone, frozenset(SCHEMA["properties"]))
        endpoint = settings.endpoint

        def ask(window: DayWindow) -> list[tuple[DayWindow, bytes]]:
            return post_window(client, endpoint, window)

        self.logger.info("Asking %s", settings.api_url + endpoint.path)
        answers = map_in_order(ask, windows, settings.max_concurrent_requests, self._stop_requested)
        try:
            for number, (window, pieces) in enumerate(answers, start=1):
                records = converter.records(
                    [
                        (piece, service_history_rows(client.answer(content, str(piece)), piece))
                        for piece, content in pieces
                    ],
                    window,
                )
                self._extracted_at = dt.datetime.now(dt.timezone.utc)
                for index, record in enumerate(records):
                    if self._stop_requested.is_set():
                        if index:  # resume at the last record written, inclusive
                            self._move_bookmark(records[index - 1]["request_date"], context)
                        return  # the SDK then writes the final STATE
                    yield record
                self._complete_window(window.end, context)
                self.logger.info(
                    "Window %s: %d records (%d of %d)", window, len(records), number, len(windows)
                )
        except HappyTalkUnavailableError:
            if not self._stop_requested.is_set():
                raise
            # The stop abandoned this window's retries: end as if it had not been reached.
        finally:
            self._end_sync(client, answers)
