"""The orchestrator keeps going (and keeps files intact) when one piece misbehaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core import downloader as dl_mod
from core.config import load_config
from core.downloader import FAILED, TAGGED, Downloader
from core.spotify import Collection, SpotifyError, SpotifyUnreachable
from core.track import Track

ENV = {"SPOTIFY_CLIENT_ID": "id", "SPOTIFY_CLIENT_SECRET": "secret"}
TRACK = Track("t1", "Song", ("Band",), "Album", ("Band",), 1000, "u", track_number=1)


def config(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, ENV)


class StubSpotify:
    def __init__(self, tracks: dict[str, Any]) -> None:
        self.tracks = tracks

    def track(self, track_id: str) -> Track:
        value = self.tracks[track_id]
        if isinstance(value, BaseException):
            raise value
        return value

    def album(self, album_id: str) -> Collection:  # pragma: no cover - unused
        raise AssertionError


def test_an_unexpected_error_expanding_one_item_does_not_end_the_run(tmp_path: Path) -> None:
    # e.g. a response with a shape we did not expect: a TypeError deep in parsing.
    cfg = config(
        tmp_path,
        "songs:\n"
        '  - "Odd": "https://open.spotify.com/track/odd"\n'
        '  - "Gone": "https://open.spotify.com/track/gone"\n',
    )
    spotify = StubSpotify(
        {"odd": TypeError("'NoneType' object is not subscriptable"), "gone": SpotifyError("404")}
    )
    report = Downloader(cfg, tmp_path / "out", spotify=spotify).run()  # type: ignore[arg-type]
    assert report.item_failures == [
        ("track Odd", "TypeError: 'NoneType' object is not subscriptable"),
        ("track Gone", "404"),
    ]
    assert report.failed


def test_metadata_rewrite_never_leaves_a_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # overwrite: metadata used to write tags into the final file in place; a crash or a
    # kill halfway left a damaged file under the final name.
    cfg = config(
        tmp_path,
        'download:\n  overwrite: metadata\n  output: "{title}.{output-ext}"\n'
        'songs:\n  - "S": "https://open.spotify.com/track/t1"\n',
    )
    out = tmp_path / "out"
    out.mkdir()
    final = out / "Song.mp3"
    final.write_bytes(b"ID3 complete original audio")

    def explode(path: Path, *_args: object) -> None:
        path.write_bytes(b"half")  # what an interrupted in-place write leaves
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dl_mod, "write_tags", explode)
    d = Downloader(cfg, out, spotify=StubSpotify({"t1": TRACK}))  # type: ignore[arg-type]
    d.covers.get = lambda url: None  # type: ignore[method-assign]
    report = d.run()
    assert [r.status for r in report.results] == [FAILED]
    assert "No space left on device" in report.results[0].reason
    assert final.read_bytes() == b"ID3 complete original audio"
    assert sorted(p.name for p in out.iterdir()) == ["Song.mp3"]  # no temp copy left

    monkeypatch.setattr(dl_mod, "write_tags", lambda path, *_: path.write_bytes(b"retagged"))
    report = d.run()
    assert [r.status for r in report.results] == [TAGGED]
    assert final.read_bytes() == b"retagged"
    assert sorted(p.name for p in out.iterdir()) == ["Song.mp3"]


def test_metadata_mode_on_a_damaged_file_says_what_to_do(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        'download:\n  overwrite: metadata\n  output: "{title}.{output-ext}"\n'
        'songs:\n  - "S": "https://open.spotify.com/track/t1"\n',
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "Song.mp3").write_bytes(b"garbage, not audio")
    report = Downloader(cfg, out, spotify=StubSpotify({"t1": TRACK})).run()  # type: ignore[arg-type]
    assert [r.status for r in report.results] == [FAILED]
    assert report.results[0].reason.startswith("the existing file is not a readable mp3 file (")
    assert report.results[0].reason.endswith(
        "); delete it or set overwrite: overwrite to download it again"
    )
    assert (out / "Song.mp3").read_bytes() == b"garbage, not audio"


def test_a_playlist_that_cannot_be_written_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Disk full while writing the first .m3u8: the OSError escaped run(), so the summary
    # was lost and the other playlists were never attempted.
    cfg = config(
        tmp_path,
        'download:\n  output: "{title}.{output-ext}"\n'
        "playlists:\n"
        '  - "Full": "https://open.spotify.com/playlist/full"\n'
        '  - "Fine": "https://open.spotify.com/playlist/fine"\n',
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "Song.mp3").write_bytes(b"already here")

    class Playlists(StubSpotify):
        def playlist(self, playlist_id: str) -> Collection:
            return Collection("playlist", playlist_id.title(), "", [TRACK])

    real = dl_mod.write_m3u8

    def write(path: Path, entries: list[Any], source: str) -> None:
        if path.name == "Full.m3u8":
            raise OSError(28, "No space left on device")
        real(path, entries, source)

    monkeypatch.setattr(dl_mod, "write_m3u8", write)
    report = Downloader(cfg, out, spotify=Playlists({})).run()  # type: ignore[arg-type]
    assert [r.status for r in report.results] == ["skipped"]
    assert report.item_failures == [
        ("playlist Full", f"cannot write {out / 'Full.m3u8'}: No space left on device")
    ]
    assert report.playlists == [out / "Fine.m3u8"]
    assert (out / "Fine.m3u8").is_file() and not (out / "Full.m3u8").exists()


def test_spotify_out_of_reach_ends_the_run_at_once_but_a_later_blip_fails_one_item(
    tmp_path: Path,
) -> None:
    songs = (
        "songs:\n"
        '  - "First": "https://open.spotify.com/track/first"\n'
        '  - "Second": "https://open.spotify.com/track/second"\n'
    )
    cfg = config(
        tmp_path, 'download:\n  overwrite: skip\n  output: "{title}.{output-ext}"\n' + songs
    )
    out = tmp_path / "out"
    out.mkdir()
    down = SpotifyUnreachable("Spotify track first: cannot reach api.spotify.com: refused")
    stub = StubSpotify({"first": down, "second": TRACK})
    with pytest.raises(SpotifyUnreachable):
        Downloader(cfg, out, spotify=stub).run()  # type: ignore[arg-type]

    (out / "Song.mp3").write_bytes(b"already here")  # so the reached track is a quick skip
    blip = SpotifyUnreachable("Spotify track second: cannot reach api.spotify.com: timed out")
    stub = StubSpotify({"first": TRACK, "second": blip})
    report = Downloader(cfg, out, spotify=stub).run()  # type: ignore[arg-type]
    assert [r.status for r in report.results] == ["skipped"]
    assert report.item_failures == [("track Second", str(blip))]
