"""Run a function over items on a bounded thread pool, yielding results in item order."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_order(
    function: Callable[[Item], Result],
    items: Iterable[Item],
    max_in_flight: int,
) -> Generator[tuple[Item, Result], None, None]:
    """Yield `(item, function(item))` in the order of `items`, up to `max_in_flight` ahead.

    At most `max_in_flight` results are pending and one is with the consumer, so memory
    follows the pool size, not the number of items. The first exception is raised in item
    order; when the consumer stops early, work not yet started is cancelled.
    """
    if max_in_flight <= 1:
        for item in items:
            yield item, function(item)
        return
    remaining = iter(items)
    pending: deque[tuple[Item, Future[Result]]] = deque()
    pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="happytalk")

    def submit_next() -> None:
        for item in remaining:
            pending.append((item, pool.submit(function, item)))
            return

    try:
        for _ in range(max_in_flight):
            submit_next()
        while pending:
            item, future = pending.popleft()
            result = future.result()
            # Refill before yielding, so the pool stays busy while the consumer works.
            submit_next()
            yield item, result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
