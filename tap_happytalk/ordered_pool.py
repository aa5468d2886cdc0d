"""Run a function over items on a bounded pool of threads, yielding results in item order."""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

Item = TypeVar("Item")
Result = TypeVar("Result")

# How often a consumer waiting for a result looks at the stop flag.
STOP_POLL_SECONDS = 0.1
# Items handed out ahead however low `ahead` falls (never more than `max_in_flight`): with an
# allowance of 1, one item waiting out a backoff would hold every later one back, although
# the pacer, not this pool, decides how many are sent. Memory stays bounded by
# `max_in_flight`, as before.
AHEAD_FLOOR = 4


def map_in_order(
    function: Callable[[Item], Result],
    items: Iterable[Item],
    max_in_flight: int,
    stop: threading.Event,
    ahead: Callable[[], int] | None = None,
) -> Generator[tuple[Item, Result], None, None]:
    """Yield `(item, function(item))` in the order of `items`, up to `max_in_flight` ahead.

    At most `max_in_flight` results are pending and one is with the consumer, so memory
    follows the pool size, not the number of items. `ahead`, if given, says how many of
    those may be pending now (the run's concurrency allowance, which changes as it goes,
    and never fewer than `AHEAD_FLOOR`): items are handed out only while fewer are pending.
    The first exception is raised in item order; one from `items` itself, after the results
    of the items it gave. When `stop` is set, or the consumer stops early, the generator ends
    within `STOP_POLL_SECONDS`, without waiting for calls in progress: they run on daemon
    threads, which the process does not wait for when it exits, and their results are
    dropped.
    """
    remaining = iter(items)
    pending: deque[tuple[Item, Future[Result]]] = deque()
    pool = _DaemonPool[Item, Result](function, max_in_flight)
    # An error from `items` itself comes after every item it did give: it is held back
    # until their results are out.
    failed: list[Exception] = []

    def fill() -> None:
        """Hand out items while fewer than allowed are pending."""
        allowed = max_in_flight if ahead is None else min(max_in_flight, max(AHEAD_FLOOR, ahead()))
        while not failed and len(pending) < allowed:
            try:
                item = next(remaining)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - raised in order, below
                failed.append(exc)
                return
            pending.append((item, pool.submit(item)))

    try:
        fill()
        while pending and not stop.is_set():
            item, future = pending[0]
            try:
                result = future.result(timeout=STOP_POLL_SECONDS)
            except FutureTimeoutError:
                fill()  # the allowance may have grown meanwhile
                continue
            pending.popleft()
            # Refill before yielding, so the pool stays busy while the consumer works.
            fill()
            yield item, result
        if failed and not stop.is_set():
            raise failed[0]
    finally:
        pool.shutdown()


class _DaemonPool(Generic[Item, Result]):
    """A fixed set of daemon threads calling one function; nothing waits for them at exit.

    `concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits, so
    a request that hangs would hold a stopped run open until it times out.
    """

    def __init__(self, function: Callable[[Item], Result], workers: int) -> None:
        self._function = function
        self._jobs: queue.SimpleQueue[tuple[Item, Future[Result]] | None] = queue.SimpleQueue()
        self._workers = max(1, workers)
        for number in range(self._workers):
            threading.Thread(target=self._work, name=f"happytalk_{number}", daemon=True).start()

    def submit(self, item: Item) -> Future[Result]:
        future: Future[Result] = Future()
        self._jobs.put((item, future))
        return future

    def shutdown(self) -> None:
        """Workers end after the call they are in; jobs not yet started are never run."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[1].cancel()
        for _ in range(self._workers):
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run(*job)
            # An idle worker must hold no answer: with many workers, the last answer of each
            # would otherwise stay in memory until that worker's next job.
            del job

    def _run(self, item: Item, future: Future[Result]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(self._function(item))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, in order
            future.set_exception(exc)
