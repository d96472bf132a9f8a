"""Process only the newest message, in a thread of its own.

rospy's ``queue_size=1`` alone still hands a slow callback stale frames (and
large images need ``buff_size``); a worker that keeps one slot and drops what
it had not started yet always works on the most recent frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class WorkerCounts:
    """Running totals; ``faces`` and ``rejected`` (bad input) are counted by the handler."""

    received: int = 0
    processed: int = 0
    dropped: int = 0
    skipped: int = 0  # the handler had nothing to do (returned False), e.g. no subscriber downstream
    processing_seconds: float = 0.0
    longest_seconds: float = 0.0
    faces: int = 0
    rejected: int = 0
    errors: int = 0  # the handler raised: a failure of ours, not of the input
    last_error: str = ""
    last_received: float | None = None  # time.monotonic() of the newest message

    def take_longest(self) -> float:
        """The longest processing time since the last call (one diagnostics period)."""
        longest, self.longest_seconds = self.longest_seconds, 0.0
        return longest

    @property
    def mean_milliseconds(self) -> float:
        return 1000.0 * self.processing_seconds / self.processed if self.processed else 0.0


class LatestMessageWorker:
    """Calls ``handle(message)`` for the newest message put, dropping ones never started.

    A handler that returns ``False`` had nothing to do: the message counts as skipped,
    not processed, so the processing time stays that of real work. A handler that raises
    counts as an error (with its text in ``counts.last_error``), not as processed: a node
    that fails on every frame must not look healthy.
    """

    def __init__(
        self,
        handle: Callable[[Any], bool | None],
        on_error: Callable[[Exception], None],
        name: str = "latest-message-worker",
    ) -> None:
        self._handle = handle
        self._on_error = on_error
        self._condition = threading.Condition()
        self._pending: Any = None
        self._stopped = False
        self.counts = WorkerCounts()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, message: Any) -> None:
        with self._condition:
            self.counts.received += 1
            self.counts.last_received = time.monotonic()
            if self._pending is not None:
                self.counts.dropped += 1
            self._pending = message
            self._condition.notify()

    def stop(self, timeout: float | None = None) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopped:
                    self._condition.wait()
                if self._stopped:
                    return
                message, self._pending = self._pending, None
            start = time.perf_counter()
            try:
                if self._handle(message) is False:
                    self.counts.skipped += 1
                    continue
            except Exception as error:  # noqa: BLE001 - one bad frame must not stop the node
                self.counts.errors += 1
                self.counts.last_error = f"{type(error).__name__}: {error}"
                self._on_error(error)
                continue
            elapsed = time.perf_counter() - start
            self.counts.processed += 1
            self.counts.processing_seconds += elapsed
            self.counts.longest_seconds = max(self.counts.longest_seconds, elapsed)
