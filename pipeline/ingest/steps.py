"""CPU seconds of each step of an ingest, so that the next bottleneck is visible.

Each step runs in one thread at a time (read and hash in the reading thread, parse in the
parsing thread, validate in the run's own thread, write in the writer thread), so the CPU time
of the thread doing it (`time.thread_time`) is the step's cost. What no step claims (start-up,
work in Arrow's or DuckDB's own thread pools, the publish) is `other`: the process's CPU time
less the steps', so the figures add up to the run's CPU time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
STEPS = ("read", "hash", "parse", "validate", "write", "duplicates")


class StepClock:
    def __init__(self):
        self.seconds = dict.fromkeys(STEPS, 0.0)
        self.started = time.process_time()
        self._lock = threading.Lock()
        self._local = threading.local()  # CPU time of steps nested in another, per thread

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] += seconds
        self._local.nested = getattr(self._local, "nested", 0.0) + seconds

    @contextlib.contextmanager
    def step(self, name: str):
        """Count the CPU time of the block (in this thread) as `name`, less steps nested in it."""
        nested = getattr(self._local, "nested", 0.0)
        start = time.thread_time()
        try:
            yield
        finally:
            spent = time.thread_time() - start
            inner = getattr(self._local, "nested", 0.0) - nested
            self._local.nested = nested
            self.add(name, spent - inner)

    def timed(self, name: str, fn: Callable[..., T]) -> Callable[..., T]:
        def run(*args, **kwargs):
            with self.step(name):
                return fn(*args, **kwargs)

        return run

    def iterate(self, name: str, items: Iterable[T]) -> Iterator[T]:
        """`items`, the time spent producing each one counted as `name`."""
        iterator = iter(items)
        try:
            while True:
                with self.step(name):
                    try:
                        item = next(iterator)
                    except StopIteration:
                        return
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def digest(self, digest):
        """A hashlib object whose `update` counts as `hash`."""
        return None if digest is None else _TimedDigest(digest, self)

    def totals(self) -> dict[str, float]:
        """Seconds per step, and `other`: the rest of the process's CPU time since the start."""
        with self._lock:
            out = {name: round(value, 3) for name, value in self.seconds.items()}
            claimed = sum(self.seconds.values())
        out["other"] = round(max(time.process_time() - self.started - claimed, 0.0), 3)
        return out


class _TimedDigest:
    def __init__(self, digest, clock: StepClock):
        self._digest, self._clock = digest, clock

    def update(self, data) -> None:
        with self._clock.step("hash"):
            self._digest.update(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
