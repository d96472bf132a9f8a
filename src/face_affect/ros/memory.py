"""Hand memory freed by large messages back to the system.

glibc's malloc keeps freed blocks in its heap for reuse and returns only the heap's top.
One hostile faces message of 16 MB (300 full crops) left the classifier 17 MB larger for
the rest of its life in bench/fault_soak.py, though nothing held the message any more.
``malloc_trim(0)`` releases the free pages anywhere in the heap, in well under a
millisecond, so the nodes call it once per diagnostics period. Without glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Returns the heap's free pages to the system; True if any were released (False without glibc)."""
    return MALLOC_TRIM is not None and bool(MALLOC_TRIM(0))
