"""Adaptive batching (kfops.serving.batcher): merging, limits, isolation, draining."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from kfops.serving.batcher import AdaptiveBatcher
from kfops.serving.errors import OverloadedError


class Model:
    """Doubles numbers; records batch sizes; 'bad' items fail the whole call."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls: list[list[object]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[object]) -> list[object]:
        self.calls.append(list(items))
        self.threads.add(threading.current_thread().name)
        if self.seconds:
            time.sleep(self.seconds)
        if "bad" in items:
            raise ValueError("bad item")
        return [item * 2 for item in items]  # type: ignore[operator]


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_a_call_in_a_worker_thread() -> None:
    model = Model(seconds=0.02)
    batcher = AdaptiveBatcher(model, max_batch_rows=32, max_wait_s=0.005)

    async def main():
        results = await asyncio.gather(*(batcher.submit(i) for i in range(40)))
        await batcher.close()
        return results

    assert run(main()) == [i * 2 for i in range(40)]
    sizes = [len(c) for c in model.calls]
    assert sum(sizes) == 40 and max(sizes) <= 32 and len(sizes) < 40
    assert model.threads and all(t.startswith("kfops-infer") for t in model.threads)


@pytest.mark.parametrize(("rows", "calls"), [([1] * 4, 1), ([30, 3], 2), ([40, 1], 2)])
def test_max_batch_rows_bounds_a_call(rows: list[int], calls: int) -> None:
    model = Model()
    batcher = AdaptiveBatcher(model, max_batch_rows=32, max_wait_s=0.05)

    async def main():
        await asyncio.gather(*(batcher.submit(i, n) for i, n in enumerate(rows)))
        await batcher.close()

    run(main())
    assert len(model.calls) == calls  # a request over the limit goes alone


def test_alone_a_request_does_not_wait_for_company() -> None:
    batcher = AdaptiveBatcher(Model(), max_batch_rows=32, max_wait_s=0.5)

    async def main():
        started = time.perf_counter()
        for i in range(3):
            assert await batcher.submit(i) == i * 2
        await batcher.close()
        return time.perf_counter() - started

    assert run(main()) < 0.5  # three sequential requests, none lingered 0.5 s


def test_a_failing_request_fails_alone() -> None:
    model = Model()
    batcher = AdaptiveBatcher(model, max_batch_rows=32, max_wait_s=0.05)

    async def main():
        items = [1, 2, "bad", 4, 5]
        results = await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)
        await batcher.close()
        return results

    results = run(main())
    assert results[:2] == [2, 4] and results[3:] == [8, 10]
    assert isinstance(results[2], ValueError)
    assert len(model.calls) <= 1 + 2 * 3  # bisection, not one call per item


def test_a_full_queue_answers_overloaded() -> None:
    batcher = AdaptiveBatcher(Model(seconds=0.05), max_batch_rows=1, max_queue_rows=2)

    async def main():
        return await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)

    results = run(main())
    refused = [r for r in results if isinstance(r, OverloadedError)]
    assert refused and refused[0].http_status == 503
    assert "rows are waiting for the model" in refused[0].message


def test_close_finishes_queued_requests_then_refuses_new_ones() -> None:
    model = Model(seconds=0.05)
    batcher = AdaptiveBatcher(model, max_batch_rows=2, max_wait_s=0.0)

    async def main():
        pending = [asyncio.ensure_future(batcher.submit(i)) for i in range(5)]
        await asyncio.sleep(0.01)
        await batcher.close(timeout_s=5)
        done = [p.result() for p in pending]
        with pytest.raises(OverloadedError, match="shutting down"):
            await batcher.submit(9)
        return done

    assert run(main()) == [0, 2, 4, 6, 8]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch_rows"):
        AdaptiveBatcher(Model(), max_batch_rows=0)
