"""Pair full frames with the results computed for them, by source stamp.

The classifier gets faces and frames on two topics, in no guaranteed order;
whichever arrives second completes the pair. Only the newest few of each are
kept, so results whose frame never comes (and frames nobody classified) age out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class StampMatcher:
    """Buffers up to ``capacity`` frames and ``capacity`` results, keyed by stamp."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._frames: OrderedDict[Hashable, Any] = OrderedDict()
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def add_frame(self, stamp: Hashable, frame: Any) -> tuple[Any, Any] | None:
        """Returns ``(frame, results)`` when results for ``stamp`` were waiting."""
        return self._add(stamp, frame, self._frames, self._results, frame_first=True)

    def add_results(self, stamp: Hashable, results: Any) -> tuple[Any, Any] | None:
        """Returns ``(frame, results)`` when the frame for ``stamp`` was waiting."""
        return self._add(stamp, results, self._results, self._frames, frame_first=False)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._results.clear()

    def _add(
        self,
        stamp: Hashable,
        item: Any,
        own: OrderedDict[Hashable, Any],
        other: OrderedDict[Hashable, Any],
        frame_first: bool,
    ) -> tuple[Any, Any] | None:
        with self._lock:
            if stamp in other:
                partner = other.pop(stamp)
                return (item, partner) if frame_first else (partner, item)
            own[stamp] = item
            own.move_to_end(stamp)
            while len(own) > self.capacity:
                own.popitem(last=False)
            return None
