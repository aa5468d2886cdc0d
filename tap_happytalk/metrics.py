"""The tap's metrics, as the SDK logs them: its HTTP requests, and units set aside or given up."""

from __future__ import annotations

import enum
import threading
from typing import cast

from singer_sdk import metrics

# Requests made once per room or room-list page: their timings are logged at DEBUG when they
# succeed (a failure is always at INFO), as are the SDK's other per-room lines.
PER_ROOM_KINDS = frozenset({"room", "page"})


class ProgressMetric(str, enum.Enum):
    """The tap's own metric names, beside the SDK's `metrics.Metric`: a stream's progress."""

    UNITS_SET_ASIDE = "units_set_aside"  # units to ask again at a run's end, by why
    UNITS_GIVEN_UP = "units_given_up"  # units this run gave up, by why


class RequestMetrics:
    """The SDK's HTTP metrics for one stream's requests, safe to share between threads.

    Every attempt logs an `http_request_duration` timer point, tagged with the endpoint (its
    path), its HTTP status (none for a transport failure) and its kind (`window`, `split`,
    `page`, `room`, or `retry` for any retry); a `page` or `room` that succeeds, at DEBUG.
    `http_request_count` counters, one per endpoint and kind, are logged at `close()`, and on
    the SDK's interval while the run goes on.
    """

    def __init__(self, stream: str) -> None:
        """Meter the requests of `stream`."""
        self._stream = stream
        self._logger = metrics.get_metrics_logger()
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, str], metrics.Counter] = {}
        self.requests = 0  # every attempt so far, retries too: the progress lines say it

    def attempted(self, endpoint: str, seconds: float, status: int | None, kind: str) -> None:
        """One request went out and came back (or failed) after `seconds`."""
        succeeded = status is not None and status < 300  # noqa: PLR2004 - HTTP's own numbers
        point = metrics.Point(
            "timer",
            metric=metrics.Metric.HTTP_REQUEST_DURATION,
            value=seconds,
            tags={
                metrics.Tag.STREAM: self._stream,
                metrics.Tag.ENDPOINT: endpoint,
                metrics.Tag.HTTP_STATUS_CODE: status,
                metrics.Tag.STATUS: metrics.Status.SUCCEEDED
                if succeeded
                else metrics.Status.FAILED,
                "request_kind": kind,
            },
        )
        with self._lock:
            if succeeded and kind in PER_ROOM_KINDS:
                # A line per room would drown the run's own lines; the counts still come.
                self._logger.debug("METRIC: %s", point)
            else:
                metrics.log(self._logger, point)
            counter = self._counters.get((endpoint, kind))
            if counter is None:
                counter = metrics.http_request_counter(self._stream, endpoint, request_kind=kind)
                self._counters[endpoint, kind] = counter
            counter.increment()
            self.requests += 1

    def close(self) -> None:
        """Log the final counts."""
        with self._lock:
            for counter in self._counters.values():
                counter.exit()
            self._counters.clear()


def log_units(stream: str, metric: ProgressMetric, counts: dict[str, int]) -> None:
    """One counter point per reason (`why`): units of a stream's progress at a run's end."""
    for why, count in counts.items():
        point = metrics.Point(
            "counter",
            metric=cast("metrics.Metric", metric),
            value=count,
            tags={metrics.Tag.STREAM: stream, "why": why},
        )
        metrics.log(metrics.get_metrics_logger(), point)
