"""The e2e world: one fake Spotify catalogue + media server results, shared by the module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.fixtures.fake_spotify import FakeSpotify
from tests.fixtures.media_server import MediaServer
from tests.fixtures.scenario import clean_env, register_track

PLAYLIST_POOL = 120


@dataclass
class World:
    spotify: FakeSpotify
    media: MediaServer
    ids: dict[str, str] = field(default_factory=dict)
    playlist_tracks: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return clean_env(**self.spotify.env(), **self.media.env())

    def url(self, kind: str, key: str) -> str:
        return FakeSpotify.open_url(kind, self.ids[key])

    def songs(self, **track_ids: str) -> list[dict[str, str]]:
        """`songs:` entries, one per name=track_id, in the order given."""
        return [{name: FakeSpotify.open_url("track", tid)} for name, tid in track_ids.items()]

    def write_config(self, path: Path, download: dict[str, object], **sections: object) -> Path:
        data = {"version": "1.2", "download": {"retry_backoff": 0, **download}, **sections}
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def world(media: MediaServer) -> Iterator[World]:
    fake = FakeSpotify().start()
    w = World(fake, media)
    cover = f"{media.url}/cover/cover.png"

    testers = fake.add_artist("The Testers", ["indie rock"])
    guest = fake.add_artist("Guest Star")
    album = fake.add_album(
        "First Album",
        [testers],
        [
            {"name": "Opening Song", "duration_ms": 1500, "isrc": "QZTST0000001"},
            {"name": "Second: The Sequel/Part 2?", "duration_ms": 1500, "isrc": "QZTST0000002"},
            {
                "name": "Disc Two Song",
                "duration_ms": 1500,
                "isrc": "QZTST0000003",
                "disc_number": 2,
            },
        ],
        release_date="2019-05-03",
        cover_url=cover,
        genres=["indie rock"],
    )
    w.ids["album"] = album
    for tid in fake.album_tracks[album]:
        register_track(fake, media, tid)

    solo = fake.add_artist("Solo Artist")
    single = fake.add_album(
        "Solo Album",
        [solo],
        [
            {
                "name": "Duet Song",
                "duration_ms": 1500,
                "isrc": "QZSOL0000001",
                "artist_ids": [solo, guest],
            }
        ],
        release_date="2022",
        cover_url=cover,
    )
    w.ids["song"] = fake.album_tracks[single][0]
    # Only on the second provider: proves the configured provider order falls back.
    register_track(fake, media, w.ids["song"], provider="youtube", clip="b", ext="webm")

    prolific = fake.add_artist("Prolific", ["synthpop"])
    lp = fake.add_album(
        "LP",
        [prolific],
        [
            {"name": "Hit One", "duration_ms": 1500, "isrc": "QZPRO0000001"},
            {"name": "Hit Two", "duration_ms": 1500, "isrc": "QZPRO0000002"},
        ],
        cover_url=cover,
    )
    fake.add_album(
        "Hit One",
        [prolific],
        [{"name": "Hit One", "duration_ms": 1500, "isrc": "QZPRO0000001"}],
        album_type="single",
        cover_url=cover,
    )
    fake.add_album(
        "Best Of Everyone",
        [prolific],
        [{"name": "Compiled", "duration_ms": 1500, "isrc": "QZPRO0000009"}],
        album_type="compilation",
    )
    w.ids["artist"] = prolific
    for tid in fake.album_tracks[lp]:
        register_track(fake, media, tid)

    various = fake.add_artist("Various Band")
    pool = fake.add_album(
        "Pool",
        [various],
        [
            {"name": f"Road Song {i:03d}", "duration_ms": 1500, "isrc": f"QZPOO{i:07d}"}
            for i in range(1, PLAYLIST_POOL + 1)
        ],
        cover_url=cover,
    )
    pool_ids = fake.album_tracks[pool]
    for tid in pool_ids:
        register_track(fake, media, tid, decoys=False)
    album_first = fake.album_tracks[album][0]
    # 125 entries over two pages of 100: null at 5, a local file at 60, an episode at 110.
    entries: list[str | None] = [*pool_ids[:4], None, *pool_ids[4:58], "local:Demo Tape.mp3"]
    entries += [*pool_ids[58:107], "episode:Episode 7", w.ids["song"], album_first]
    entries += pool_ids[107:]
    w.ids["playlist"] = fake.add_playlist("Road Trip ✓", entries)
    w.playlist_tracks = [e for e in entries if e and ":" not in e]
    assert len(entries) == 125

    yield w
    fake.stop()
