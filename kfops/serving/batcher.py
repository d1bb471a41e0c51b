"""Adaptive batching: concurrent requests share one model call, run off the event loop.

A 100-tree forest predicting 32 rows costs about what it costs for one row (per-tree
overhead dominates), so merging concurrent requests multiplies throughput. A synchronous
``predict`` would also hold the server's only event loop, so batches run in worker
threads while the loop keeps reading requests.

Each worker (one inference thread) repeats:

1. wait for a request;
2. linger for company only while it can pay: until as many rows are queued as its
   previous batch had, the batch is full, or ``max_wait`` has passed since the oldest
   queued request arrived, whichever comes first;
3. take requests in arrival order up to ``max_batch_rows`` (a bigger request goes alone);
4. run them as one call in its thread; when that call fails, split the batch in halves
   and retry, so a bad request fails itself and not its neighbours.

Worked example (max_batch_rows 32, max_wait 25 ms): alone at concurrency 1 the previous
batch had 1 row, so a request is dispatched at once, with no added latency. Under load
from 32 clients the previous batch had 32 rows; its clients send their next requests as
their answers arrive, so with 12 of them queued when the worker frees up, it waits until
the other 20 are in or the oldest has waited 25 ms. Taking the 12 at once instead would
split the clients into two groups that take turns, each request waiting for the other
group's model call as well as its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kfops.serving.errors import OverloadedError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Pending(Generic[T]):
    item: T
    rows: int
    future: asyncio.Future[Any]
    arrived: float


class AdaptiveBatcher(Generic[T, R]):
    """Merge concurrent ``submit`` calls into calls of ``run(items) -> results``.

    ``run`` is synchronous, returns one result per item in order, and runs in a worker
    thread. The batcher starts with the first ``submit`` inside a running event loop.
    """

    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        *,
        max_batch_rows: int = 32,
        max_wait_s: float = 0.025,
        workers: int = 1,
        max_queue_rows: int = 4096,
    ) -> None:
        if max_batch_rows < 1 or workers < 1 or max_wait_s < 0:
            raise ValueError("max_batch_rows and workers must be >= 1, max_wait_s >= 0")
        self._run = run
        self._max_rows = max_batch_rows
        self._max_wait = max_wait_s
        self._workers = workers
        self._max_queue_rows = max_queue_rows
        self._queue: deque[_Pending[T]] = deque()
        self._queued_rows = 0
        self._running = 0
        self._wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="kfops-infer")
        self._closing = False

    async def submit(self, item: T, rows: int = 1) -> R:
        """Queue one request of ``rows`` rows; its result once its batch has run."""
        if self._closing:
            raise OverloadedError("the server is shutting down; retry on another replica")
        if self._queued_rows + rows > self._max_queue_rows and self._queue:
            raise OverloadedError(
                f"{self._queued_rows} rows are waiting for the model (limit "
                f"{self._max_queue_rows}); retry later or add replicas"
            )
        loop = asyncio.get_running_loop()
        if not self._tasks:
            self._wakeup = asyncio.Event()
            self._tasks = [loop.create_task(self._worker()) for _ in range(self._workers)]
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append(_Pending(item, rows, future, loop.time()))
        self._queued_rows += rows
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    @property
    def busy(self) -> bool:
        return bool(self._queue) or self._running > 0

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        wakeup = self._wakeup
        assert wakeup is not None
        expected = 1
        while True:
            while not self._queue:
                wakeup.clear()
                await wakeup.wait()
            target = min(expected, self._max_rows)
            while self._queued_rows < target and self._queue:
                remaining = self._queue[0].arrived + self._max_wait - loop.time()
                if remaining <= 0:
                    break
                wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), remaining)
            batch = self._take()
            if batch:
                expected = sum(p.rows for p in batch)
                await self._execute(batch)

    def _take(self) -> list[_Pending[T]]:
        batch: list[_Pending[T]] = []
        rows = 0
        while self._queue:
            pending = self._queue[0]
            if batch and rows + pending.rows > self._max_rows:
                break
            self._queue.popleft()
            self._queued_rows -= pending.rows
            if pending.future.done():  # the client went away
                continue
            batch.append(pending)
            rows += pending.rows
        return batch

    async def _execute(self, batch: list[_Pending[T]]) -> None:
        self._running += 1
        try:
            outcomes = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._isolated, [p.item for p in batch]
            )
        except asyncio.CancelledError:  # close() gave up waiting
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(OverloadedError("the server shut down first"))
            raise
        except Exception as exc:  # the executor itself failed
            outcomes = [(False, exc)] * len(batch)
        finally:
            self._running -= 1
        for pending, (ok, value) in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)

    def _isolated(self, items: list[T]) -> list[tuple[bool, Any]]:
        """Run the items together; on failure, halve and retry, down to single items.

        One bad request among 32 costs about 2 * log2(32) = 10 extra calls, not 32.
        """
        try:
            return [(True, r) for r in self._run(items)]
        except Exception as exc:
            if len(items) == 1:
                return [(False, exc)]
        middle = len(items) // 2
        return self._isolated(items[:middle]) + self._isolated(items[middle:])

    async def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new requests, finish the queued ones (up to ``timeout_s``), stop."""
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.busy and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for pending in self._queue:
            if not pending.future.done():
                pending.future.set_exception(OverloadedError("the server shut down first"))
        self._queue.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
