"""The server process's memory: hand what ended sessions freed back to the system.

CPython and numpy allocate through the C library's malloc. With glibc, blocks freed by a session (its
frames, models, uploaded file) stay in malloc's arenas after the session ends, so the server's resident
memory only ever grows (measured: 2 sessions of 36 MB of frames each, dropped, then 0 of 74 MB returned;
``malloc_trim`` gave 53 MB back). Two remedies, both no-ops where glibc is absent (macOS, musl, Windows):

    tune_allocator()   large blocks (>= 128 kB: a step's frames, a payload) always come from mmap, so that
                       freeing them returns them at once (glibc otherwise raises this threshold as it goes)
    release_freed()    a full garbage collection, then malloc_trim(0): return the free parts of every arena
                       (~0.1-0.2 s, at most once per MIN_INTERVAL_S), called when a new session starts, i.e.
                       after earlier ones may have ended
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
import threading
import time

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024
MIN_INTERVAL_S = 10.0  # release_freed runs at most this often (a full garbage collection takes ~0.1-0.2 s)
_lock = threading.Lock()
_state: dict = {}


def _glibc():
    """glibc's handle, or None on any other C library."""
    with _lock:
        if "libc" not in _state:
            lib = None
            try:
                cand = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(cand, "malloc_trim") and hasattr(cand, "mallopt") and hasattr(cand, "gnu_get_libc_version"):
                    lib = cand
            except OSError:
                lib = None
            _state["libc"] = lib
        return _state["libc"]


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold at 128 kB (once per process); True when it was set."""
    lib = _glibc()
    if lib is None:
        return False
    with _lock:
        if not _state.get("tuned"):
            _state["tuned"] = bool(lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
        return _state["tuned"]


def release_freed(min_interval_s: float = MIN_INTERVAL_S) -> bool:
    """Collect garbage cycles (a dropped Streamlit session is one), then return freed heap memory to the
    system (glibc's malloc_trim(0)); at most once per ``min_interval_s`` seconds in the process, so that a
    classroom arriving at once pays for it once. True when it ran and some memory was returned."""
    now = time.monotonic()
    with _lock:
        if now - _state.get("released_at", -math.inf) < min_interval_s:
            return False
        _state["released_at"] = now
    gc.collect()
    lib = _glibc()
    return bool(lib.malloc_trim(0)) if lib is not None else False
