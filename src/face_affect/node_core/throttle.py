"""Log lines throttled per kind of problem, so one kind cannot hide another and none can flood the log.

rospy's ``*_throttle_identical`` logs whenever the text differs from the last one at that
call site: input that alternates between two faults (or carries a new number each time)
is logged on every message. Here a line is logged at most once per ``period`` for each
kind, where the kind is the text with its numbers masked ("face 0: score nan" and
"face 3: score nan" are one kind). The kinds remembered are bounded, since the texts
may quote what a sender chose (an encoding name, a topic).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
MAX_KINDS = 64


def problem_kind(text: str) -> str:
    return NUMBER.sub("#", text)


class ThrottledLog:
    """Calls ``log(text)`` at most once per ``period`` seconds per :func:`problem_kind` (from any thread)."""

    def __init__(self, log: Callable[[str], None], period: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.log = log
        self.period = period
        self.clock = clock
        self.last_logged: OrderedDict[str, float] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, text: str) -> bool:
        """Logs ``text`` unless its kind was logged within the period; True if it was logged."""
        kind, now = problem_kind(text), self.clock()
        with self.lock:
            last = self.last_logged.get(kind)
            if last is not None and now - last < self.period:
                return False
            self.last_logged[kind] = now
            self.last_logged.move_to_end(kind)
            while len(self.last_logged) > MAX_KINDS:
                self.last_logged.popitem(last=False)
        self.log(text)
        return True
