"""A thread-safe cache with a time-to-live and an LRU size bound (Spotify API responses)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import cachetools

V = TypeVar("V")


class TTLLRUCache(Generic[V]):
    """Entries expire `ttl` seconds after they were stored; past `maxsize` the least
    recently used entry is evicted. `ttl == 0` disables caching."""

    def __init__(
        self, maxsize: int, ttl: float, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._cache: cachetools.TTLCache[Hashable, V] = cachetools.TTLCache(
            maxsize=maxsize, ttl=max(ttl, 1e-9), timer=timer
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._cache.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def set(self, key: Hashable, value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._cache[key] = value

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """Return the cached value, or compute, store and return it."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.set(key, value)
        return value

    def __len__(self) -> int:
        with self._lock:
            self._cache.expire()
            return len(self._cache)
