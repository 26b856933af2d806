"""Trained models shared by every session of one server: a classroom opening the same link trains once.

Training is deterministic for a configuration (seeded initialisation and shuffles, explicit generators),
so a trained model is cached under a hash of everything that determines it (``fingerprint``): for the
original, the training points and labels, the model recipe (architecture, activation, classes), the
training recipe (epochs, learning rate, batch size), the seed and the device; for a retrain, the
original's weights, the retain and forget points and the number of retrains. Entries are shared
read-only: ``Workspace`` hands each session its own deep copy of the weights.

    MODELS.get_or_make(key, make, size)   the cached value, or make() once: concurrent callers with the
                                          same key wait for the first instead of training again
    MODELS.stats()                        {"entries", "bytes", "max_bytes", "hits", "misses", "evictions"}

The cache is bounded by bytes (least recently used first out; ``UNLEARN_MODEL_CACHE_MB``, default 256;
0 switches it off).
A value larger than the whole budget is returned but not kept. Nothing here holds a session's own state
(data, selection, frames): those live in the session and go with it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections import OrderedDict
from typing import Callable, TypeVar

import numpy as np
import torch
from torch import nn

T = TypeVar("T")
CACHE_ENV = "UNLEARN_MODEL_CACHE_MB"
DEFAULT_MB = 256


def fingerprint(*parts) -> str:
    """A SHA-256 hex digest of ``parts``: arrays and tensors by dtype, shape and bytes; modules by their
    state dict; numbers, strings, None, lists, tuples and dicts (keys sorted) by value. Two calls give the
    same digest exactly when every part is equal (floats compared bit for bit; a module by its printed
    architecture and its state dict)."""
    h = hashlib.sha256()

    def feed(x) -> None:
        if isinstance(x, nn.Module):
            h.update(b"module:" + repr(x).encode())  # the architecture (layers, activations), then the weights
            feed(dict(x.state_dict()))
        elif isinstance(x, torch.Tensor):
            feed(x.detach().cpu().contiguous().numpy())
        elif isinstance(x, np.ndarray):
            a = np.ascontiguousarray(x)
            h.update(f"array:{a.dtype.str}:{a.shape}:".encode())
            h.update(a.tobytes())
        elif isinstance(x, dict):
            h.update(f"dict:{len(x)}:".encode())
            for k in sorted(x, key=str):
                feed(str(k))
                feed(x[k])
        elif isinstance(x, (list, tuple)):
            h.update(f"seq:{len(x)}:".encode())
            for v in x:
                feed(v)
        elif isinstance(x, float):
            h.update(b"float:" + np.float64(x).tobytes())
        elif x is None or isinstance(x, (bool, int, str, np.generic)):
            h.update(f"{type(x).__name__}:".encode() + json.dumps(x.item() if isinstance(x, np.generic) else x)
                     .encode() + b";")
        else:
            raise TypeError(f"cannot fingerprint a {type(x).__name__}")

    for p in parts:
        feed(p)
    return h.hexdigest()


def nbytes(x) -> int:
    """Bytes held by the tensors and arrays in ``x`` (a module, a tensor, an array, or lists, tuples, dicts
    and dataclass-like objects of them), plus a small allowance per object."""
    seen: set[int] = set()

    def walk(v) -> int:
        if id(v) in seen:
            return 0
        seen.add(id(v))
        if isinstance(v, nn.Module):
            return sum(t.numel() * t.element_size() for t in v.state_dict().values()) + 1024
        if isinstance(v, torch.Tensor):
            return v.numel() * v.element_size()
        if isinstance(v, np.ndarray):
            return int(v.nbytes)
        if isinstance(v, dict):
            return 64 + sum(walk(k) + walk(x) for k, x in v.items())
        if isinstance(v, (list, tuple)):
            return 64 + sum(walk(x) for x in v)
        if hasattr(v, "__dict__"):
            return 64 + walk(vars(v))
        return 32

    return walk(x)


class SharedCache:
    """A thread-safe LRU cache bounded by bytes, with one computation per key at a time."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._making: dict[str, threading.Lock] = {}
        self._bytes = 0
        self.hits = self.misses = self.evictions = 0

    def get(self, key: str):
        """The cached value (shared: do not mutate it), or None."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[0]

    def get_or_make(self, key: str, make: Callable[[], T], size: Callable[[T], int] = nbytes) -> T:
        """The value under ``key``; on a miss ``make()`` runs once while other callers of the same key wait
        (an exception in ``make`` is raised to its caller and nothing is cached; a waiter then tries itself)."""
        if self.max_bytes <= 0:  # caching switched off (UNLEARN_MODEL_CACHE_MB=0): every caller computes
            return make()
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            gate = self._making.setdefault(key, threading.Lock())
        with gate:
            value = self.get(key)
            if value is not None:
                return value
            with self._lock:
                self.misses += 1
            try:
                value = make()
            finally:
                with self._lock:
                    if self._making.get(key) is gate:
                        del self._making[key]
            self.put(key, value, size(value))
            return value

    def put(self, key: str, value, n_bytes: int) -> None:
        n_bytes = int(n_bytes)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if n_bytes > self.max_bytes:
                return
            self._items[key] = (value, n_bytes)
            self._bytes += n_bytes
            while self._bytes > self.max_bytes:
                _, (_, b) = self._items.popitem(last=False)
                self._bytes -= b
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def stats(self) -> dict:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes, "max_bytes": self.max_bytes,
                    "hits": self.hits, "misses": self.misses, "evictions": self.evictions}


def budget_bytes() -> int:
    try:
        mb = float(os.environ.get(CACHE_ENV, DEFAULT_MB))
    except ValueError:
        mb = DEFAULT_MB
    return int(max(0.0, mb if math.isfinite(mb) else DEFAULT_MB) * 2**20)


#: The one cache of trained models of this server process (originals, retrains, retrain bands).
MODELS = SharedCache(budget_bytes())
