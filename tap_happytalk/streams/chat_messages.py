"""`chat_messages`: every message of every room `chat_rooms` reads, sent just before its room.

HappyTalk gives a room's messages only with the room (`chat_data`), so this is the SDK child
stream of `chat_rooms`, which reads each room once for both streams. Its own state (its point
and its open rooms, written by `chat_rooms`) says which days' messages it has, so it backfills
on its own when it is selected after `chat_rooms`.

The SDK syncs a child stream once per parent record, logging a "Beginning sync" line and a
`record_count` and a `sync_duration` METRIC line each time: three lines per room. Here those
go to DEBUG, and the run's totals are logged once at INFO, when the SDK asks each stream for
its costs at the end of the run.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from singer_sdk import metrics
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_happytalk.streams.base import ExplainedErrorsStream
from tap_happytalk.streams.chat_rooms import ChatRoomsStream
from tap_happytalk.streams.chat_schemas import MESSAGE_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context


@dataclass
class _RunTotals:
    """What the per-room syncs of the child stream add up to over a run."""

    rooms: int = 0
    records: int = 0
    seconds: float = 0.0


def _log_at_debug(meter: metrics.Meter, point: metrics.Point[Any]) -> None:
    """A point as `metrics.log` writes it, at DEBUG: one room's share of the run's metric."""
    meter.logger.debug("METRIC: %s", point)


class _RoomCounter(metrics.Counter):
    """The records of one room's sync: logged at DEBUG, added to the run's count."""

    def __init__(self, stream: str, totals: _RunTotals) -> None:
        super().__init__(
            metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: stream}, log_interval=math.inf
        )
        self._totals = totals

    @override
    def exit(self) -> None:
        self._totals.rooms += 1
        self._totals.records += self.value
        _log_at_debug(self, metrics.Point("counter", self.metric, self.value, self.tags))
        self.value = 0


class _RoomTimer(metrics.Timer):
    """The duration of one room's sync: logged at DEBUG, added to the run's duration."""

    def __init__(self, stream: str, totals: _RunTotals) -> None:
        super().__init__(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: stream})
        self._totals = totals

    @override
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        elapsed = self.elapsed()
        self._totals.seconds += elapsed
        failed = exc_type is not None
        self.tags.setdefault(
            metrics.Tag.STATUS, metrics.Status.FAILED if failed else metrics.Status.SUCCEEDED
        )
        _log_at_debug(self, metrics.Point("timer", self.metric, elapsed, self.tags))


class ChatMessagesStream(ExplainedErrorsStream):
    """Every message of every room `chat_rooms` reads, sent just before its room."""

    name = "chat_messages"
    primary_keys = ("id",)
    schema = MESSAGE_SCHEMA
    parent_stream_type = ChatRoomsStream
    # One state for the stream, not one per room: `chat_rooms` keeps it.
    state_partitioning_keys: list[str] = []  # noqa: RUF012 - the SDK's own attribute
    selected_by_default = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap) -> None:
        """Build the stream."""
        super().__init__(tap=tap)
        self._schema_written = False
        self._totals = _RunTotals()

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's lines for this stream, its per-room INFO lines at DEBUG.

        The SDK logs "Beginning sync of 'chat_messages'" at every room's sync.
        """
        super().log(
            message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs
        )

    @override
    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        """One room's record count, logged at DEBUG; the run's is logged at its end."""
        return _RoomCounter(self.name, self._totals)

    @override
    def get_sync_timer(self) -> metrics.Timer:
        """One room's sync duration, logged at DEBUG; the run's is logged at its end."""
        return _RoomTimer(self.name, self._totals)

    @override
    def log_sync_costs(self) -> None:
        """At the run's end: the messages of every room read, once, as the SDK's metrics."""
        super().log_sync_costs()
        if not self.selected:
            return
        totals = self._totals
        tags: dict[str, Any] = {metrics.Tag.STREAM: self.name}
        self.logger.info("%d messages of %d rooms", totals.records, totals.rooms)
        logger = metrics.get_metrics_logger()
        metrics.log(
            logger, metrics.Point("counter", metrics.Metric.RECORD_COUNT, totals.records, tags)
        )
        timed: dict[str, Any] = {**tags, metrics.Tag.STATUS: metrics.Status.SUCCEEDED}
        metrics.log(
            logger, metrics.Point("timer", metrics.Metric.SYNC_DURATION, totals.seconds, timed)
        )

    @override
    def _write_schema_message(self) -> None:
        """Once a run: the SDK would repeat the SCHEMA before every room's messages."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The room's messages, which `chat_rooms` read with the room."""
        rooms = cast("ChatRoomsStream", self._tap.streams[ChatRoomsStream.name])
        return rooms.take_messages(str((context or {})["room_id"]))
