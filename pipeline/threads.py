"""Overlap of I/O with compute: a prefetching iterator and a background consumer.

Reading and decompressing the next chunk, and encoding Parquet, release the GIL inside Arrow;
running them beside the parse keeps both cores busy. Queues are bounded, so memory stays bounded
too. An exception in a worker is re-raised in the caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(make: Callable[[], Iterable[T]], depth: int = 1, prepare: Callable[[T], None] | None = None) -> Iterator[T]:
    """Iterate `make()` in a worker thread, at most `depth` items ahead of the consumer."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        try:
            for item in make():
                if prepare is not None:
                    prepare(item)
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer
            items.put((_DONE, exc))

    worker = threading.Thread(target=work, name="orusage-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = items.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()


class Background:
    """Calls `consume(item)` for each submitted item in one worker thread, in order."""

    def __init__(self, consume: Callable[[T], None], depth: int = 2):
        self.consume = consume
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.worker = threading.Thread(target=self._work, name="orusage-writer", daemon=True)
        self.worker.start()

    def _work(self):
        while True:
            item = self.items.get()
            if item is _DONE:
                return
            if self.error is None:
                try:
                    self.consume(item)
                except BaseException as exc:
                    self.error = exc

    def submit(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.items.put(item)

    def close(self) -> None:
        if self.worker.is_alive():
            self.items.put(_DONE)
            self.worker.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop the worker, dropping what was not consumed yet; never raises."""
        self.error = self.error or RuntimeError("aborted")
        while self.worker.is_alive():
            try:
                self.items.put(_DONE, timeout=0.1)
                break
            except queue.Full:
                try:
                    self.items.get_nowait()
                except queue.Empty:
                    pass
        self.worker.join()
