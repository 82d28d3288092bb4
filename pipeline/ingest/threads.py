"""Overlap of I/O with compute: a prefetching iterator and a background consumer.

Reading and decompressing the next chunk, and encoding Parquet, release the GIL inside Arrow;
running them beside the parse keeps both cores busy. Queues are bounded, so memory stays bounded
too. An exception in a worker is re-raised in the caller.

Every handoff is safe whichever side fails first: no thread ever blocks on a queue without
also watching a stop flag (puts and gets wait in short slices), a consumer that leaves early
stops its producer and drains the queue before joining it, and a producer that dies without a
word is noticed by its consumer. So a failure in any stage, or Ctrl-C, ends the run instead of
leaving threads waiting on each other.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
_SLICE = 0.05  # seconds a blocked put or get waits before it looks at the stop flag again
PATIENCE = 10.0  # seconds a stopped worker gets to finish what it is doing


class WorkerDied(RuntimeError):
    """A worker thread ended without handing on its result or its error."""


def _put(items: queue.Queue, item, stop: threading.Event) -> bool:
    """Put `item` unless `stop` is set first; whether it was put."""
    while not stop.is_set():
        try:
            items.put(item, timeout=_SLICE)
            return True
        except queue.Full:
            continue
    return False


def _get(items: queue.Queue, worker: threading.Thread):
    """The next item; raises WorkerDied when the worker is gone and left nothing."""
    while True:
        try:
            return items.get(timeout=_SLICE)
        except queue.Empty:
            if not worker.is_alive():
                try:
                    return items.get_nowait()
                except queue.Empty:
                    raise WorkerDied(f"{worker.name} stopped without a result") from None


def _drain(items: queue.Queue) -> None:
    while True:
        try:
            items.get_nowait()
        except queue.Empty:
            return


def _stop_and_join(worker: threading.Thread, items: queue.Queue, stop: threading.Event, patience: float = PATIENCE) -> None:
    """Stop the worker and wait for it, at most `patience` seconds: a worker stuck in a read that
    never returns (a pipe nobody writes to, a hung network mount) is a daemon thread left to end
    with the process, so the caller can still clean up and exit."""
    stop.set()
    deadline = time.monotonic() + patience
    while worker.is_alive() and time.monotonic() < deadline:
        _drain(items)
        worker.join(_SLICE)
    _drain(items)


def prefetch(make: Callable[[], Iterable[T]], depth: int = 1, prepare: Callable[[T], None] | None = None) -> Iterator[T]:
    """Iterate `make()` in a worker thread, at most `depth` items ahead of the consumer.

    `prepare(item)` runs in the worker before the item is handed on. Closing the iterator early
    (or an error in the consumer) stops the worker and closes `make()`'s iterator too."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        source = iter(())
        try:
            source = iter(make())
            for item in source:
                if prepare is not None:
                    prepare(item)
                if not _put(items, (item, None), stop):
                    return
            _put(items, (_DONE, None), stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            _put(items, (_DONE, exc), stop)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="orusage-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = _get(items, worker)
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        _stop_and_join(worker, items, stop)


class Background:
    """Calls `consume(item)` for each submitted item in one worker thread, in order."""

    def __init__(self, consume: Callable[[T], None], depth: int = 2):
        self.consume = consume
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.worker = threading.Thread(target=self._work, name="orusage-writer", daemon=True)
        self.worker.start()

    def _work(self):
        while not self.stop.is_set():
            try:
                item = self.items.get(timeout=_SLICE)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if self.error is None:
                try:
                    self.consume(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the submitting thread by _check()
                    self.error = exc

    def _check(self) -> None:
        if self.error is not None:
            raise self.error
        if not self.worker.is_alive():
            raise WorkerDied(f"{self.worker.name} stopped")

    def submit(self, item) -> None:
        """Hand `item` to the worker; raises the worker's error instead of waiting on a dead one."""
        while True:
            self._check()
            try:
                self.items.put(item, timeout=_SLICE)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait until every submitted item was consumed; re-raise the worker's error."""
        if self.worker.is_alive():
            self.submit(_DONE)
            while self.worker.is_alive():
                self.worker.join(_SLICE)
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop the worker, dropping what was not consumed yet; never raises."""
        self.error = self.error or RuntimeError("aborted")
        _stop_and_join(self.worker, self.items, self.stop)
