"""Search goes through yt-dlp's real extract_info against the local search endpoint (RSS)."""

from __future__ import annotations

import pytest

from core import provider
from core.matching import best_match
from core.track import Track
from tests.fixtures.media_server import MediaServer, Result

TRACK = Track("s1", "Blue Monday", ("New Order",), "Power", ("New Order",), 1500, "u")


@pytest.fixture
def env(media: MediaServer, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None) -> MediaServer:
    for k, v in media.env().items():
        monkeypatch.setenv(k, v)
    return media


def test_search_entries_become_candidates(env: MediaServer) -> None:
    env.add_results(
        "ytmusic",
        provider.search_query(TRACK),
        [
            Result("New Order - Blue Monday (Live)", 1.5, "a"),
            Result("New Order - Blue Monday", 1.5, "a"),
        ],
    )
    cands = provider.search("youtube-music", TRACK, limit=10)
    assert [c.title for c in cands] == ["New Order - Blue Monday (Live)", "New Order - Blue Monday"]
    assert all(c.duration == 1.5 and c.url.startswith(env.url + "/audio/") for c in cands)
    best = best_match(TRACK, cands, 0.6)
    assert best is not None and best[0].title == "New Order - Blue Monday"


def test_search_limit_is_respected(env: MediaServer) -> None:
    results = [Result(f"New Order - Blue Monday take {i}", 1.5, "a") for i in range(8)]
    env.add_results("youtube", provider.search_query(TRACK), results)
    assert len(provider.search("youtube", TRACK, limit=3)) == 3


def test_no_results_is_an_empty_list(env: MediaServer) -> None:
    other = Track("s2", "Nothing Here", ("Nobody",), "", ("Nobody",), 1000, "u")
    assert provider.search("youtube", other) == []


def test_query_is_url_quoted_into_http_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICDL_YOUTUBE_SEARCH_URL", "http://h/s?q={query}&n={limit}")
    assert provider.search_url("youtube", "AC/DC - T.N.T & more", 5) == (
        "http://h/s?q=AC%2FDC%20-%20T.N.T%20%26%20more&n=5"
    )
    monkeypatch.delenv("MUSICDL_YOUTUBE_SEARCH_URL")
    assert provider.search_url("youtube", "a b", 5) == "ytsearch5:a b"
    monkeypatch.delenv("MUSICDL_YOUTUBE_MUSIC_SEARCH_URL", raising=False)
    assert provider.search_url("youtube-music", "a b", 5) == (
        "https://music.youtube.com/search?q=a%20b#songs"
    )
