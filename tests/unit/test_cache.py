"""The API cache forgets entries after the TTL and evicts the least recently used."""

from __future__ import annotations

from core.cache import TTLLRUCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_ttl() -> None:
    clock = Clock()
    cache: TTLLRUCache[str] = TTLLRUCache(10, ttl=60, timer=clock)
    cache.set("k", "v")
    clock.now = 59
    assert cache.get("k") == "v"
    clock.now = 61
    assert cache.get("k") is None


def test_lru_eviction_keeps_recently_used() -> None:
    cache: TTLLRUCache[int] = TTLLRUCache(2, ttl=3600, timer=Clock())
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # a is now most recently used
    cache.set("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert len(cache) == 2


def test_get_or_compute_calls_once_while_fresh() -> None:
    clock = Clock()
    cache: TTLLRUCache[int] = TTLLRUCache(10, ttl=10, timer=clock)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get_or_compute("x", compute) == 1
    assert cache.get_or_compute("x", compute) == 1
    clock.now = 11
    assert cache.get_or_compute("x", compute) == 2


def test_ttl_zero_disables_caching() -> None:
    cache: TTLLRUCache[int] = TTLLRUCache(10, ttl=0)
    cache.set("x", 1)
    assert cache.get("x") is None
