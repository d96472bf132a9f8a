"""How the nodes' heap serves large messages: reused while they flow, handed back once a period.

glibc's malloc keeps freed blocks in its heap for reuse and returns only the heap's top.
One hostile faces message of 16 MB (300 full crops) left the classifier 17 MB larger for
the rest of its life in bench/fault_soak.py, though nothing held the message any more.
``malloc_trim(0)`` releases the free pages anywhere in the heap, in well under a
millisecond, so the nodes call it once per diagnostics period.

Between those calls the heap should keep what it has. rospy reads a topic with
``socket.recv(buff_size)``, a fresh 64 MB block (:data:`~face_affect.ros.images.BUFF_SIZE`)
for every chunk of a frame; by default glibc maps each such block from the kernel and
unmaps it when freed, so every chunk lands on new pages that fault in one by one (230
page faults a VGA frame). In the detector's receive thread at 30 Hz VGA that cost 0.052
cores; with blocks below :data:`HEAP_BLOCK_LIMIT` taken from the heap, and its free top kept
for the next frame, 0.030. Where glibc refuses so high a threshold
(older versions cap it at 32 MB) or is absent, allocation stays as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

HEAP_BLOCK_LIMIT = 2**27
"""Blocks below 128 MB come from the heap (twice rospy's receive buffer); larger ones are mapped."""
HEAP_TOP_KEPT = HEAP_BLOCK_LIMIT
"""When the heap shrinks after a free it keeps this much of its free top: the pages the next chunks land on.
As large as a whole receive buffer, because CPython writes a terminating byte at the end of each
fresh 64 MB block: with 4 MB kept, that page faulted in anew for every chunk (115 faults a VGA frame
received in 8 kB chunks, 2.4 with the whole block kept). Kept pages cost memory only once touched,
and :func:`release_free_memory` returns them once a period."""
M_TOP_PAD = -2  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _load_libc()
MALLOC_TRIM: Callable[[int], int] | None = getattr(_LIBC, "malloc_trim", None)
MALLOPT: Callable[[int, int], int] | None = getattr(_LIBC, "mallopt", None)


def keep_large_blocks_in_heap() -> bool:
    """Blocks below :data:`HEAP_BLOCK_LIMIT` come from one heap for all threads, which keeps
    :data:`HEAP_TOP_KEPT` of its free top when it shrinks; False, with nothing changed, where glibc
    refuses the threshold or is absent. Call it before threads start.

    One heap, because a thread's own heap is at most 64 MB, too small for rospy's receive
    buffer, and :func:`release_free_memory` cannot shrink its top. The threshold goes first:
    without it the other settings would pin glibc's threshold at 128 kB and map more blocks.
    """
    if MALLOPT is None or not MALLOPT(M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT):
        return False
    return bool(MALLOPT(M_ARENA_MAX, 1)) and bool(MALLOPT(M_TOP_PAD, HEAP_TOP_KEPT))


def release_free_memory() -> bool:
    """Returns the heap's free pages to the system; True if any were released (False without glibc)."""
    return MALLOC_TRIM is not None and bool(MALLOC_TRIM(0))
