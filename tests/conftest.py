"""Shared fixtures. Every test gets exactly one of the unit/integration/e2e markers from the
folder it lives in. Servers bind 127.0.0.1 port 0; nothing here reaches the internet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.audio import make_clip, make_png
from tests.fixtures.fake_spotify import FakeSpotify
from tests.fixtures.media_server import MediaServer

SUITES = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).parts
        for suite in SUITES:
            if suite in parts:
                item.add_marker(getattr(pytest.mark, suite))


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Encoded fixtures, generated once per session."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def cover_png() -> bytes:
    return make_png(16, 16, (10, 120, 200))


@pytest.fixture(scope="session")
def media(clip_dir: Path, cover_png: bytes) -> Iterator[MediaServer]:
    server = MediaServer()
    server.clips["a"] = make_clip(clip_dir, "m4a", 1.5, 440)
    server.clips["b"] = make_clip(clip_dir, "webm", 1.5, 660)
    server.images["cover.png"] = cover_png
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spotify_server() -> Iterator[FakeSpotify]:
    server = FakeSpotify().start()
    yield server
    server.stop()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local servers must never go through a proxy from the environment."""
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
