"""download.py end to end, as a subprocess, against the fake Spotify API and media server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.metadata import read_tags, write_tags
from core.provider import search_query
from core.spotify import track_from_api
from tests.e2e.conftest import World
from tests.fixtures.media_server import Result
from tests.fixtures.scenario import DOWNLOAD_PY, register_track, run_download

FORMATS = ["mp3", "m4a", "flac", "opus", "ogg", "wav"]


def temp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".musicdl-")]


@pytest.fixture(scope="module")
def library(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """One full run: a song, an album, an artist and a 125-entry playlist, threads=4."""
    base = tmp_path_factory.mktemp("library")
    out = base / "music"
    config = world.write_config(
        base / "config.yaml",
        {"format": "mp3", "threads": 4, "max_retries": 2},
        songs=[{"Duet": world.url("track", "song")}],
        albums=[{"First Album": world.url("album", "album")}],
        artists=[{"Prolific": world.url("artist", "artist")}],
        playlists=[{"Road Trip": world.url("playlist", "playlist")}],
    )
    proc = run_download(config, out, world.env())
    return out, config, proc.stdout, proc.stderr + f"\n[exit {proc.returncode}]"


def test_full_run_exits_0_with_progress_and_summary(library: tuple[Path, Path, str, str]) -> None:
    out, _config, stdout, stderr = library
    assert stderr.endswith("[exit 0]"), stderr[-3000:]
    # unique tracks: 1 song + 3 album + 2 artist + 120 playlist pool (2 shared with above)
    total = 126
    progress = re.findall(r"\[(\d+)/(\d+)\] (ok|skipped|failed): ", stderr)
    assert len(progress) == total
    assert {p[1] for p in progress} == {str(total)}
    assert {p[2] for p in progress} == {"ok"}
    assert re.search(r"^ok\s+126$", stdout, re.M)
    assert re.search(r"^failed\s+0$", stdout, re.M)
    assert temp_leftovers(out) == []


def test_playlist_skips_null_local_and_episode_with_positions(
    library: tuple[Path, Path, str, str],
) -> None:
    stderr = library[3]
    assert "playlist 'Road Trip ✓' position 5: empty entry, skipped" in stderr
    assert "position 60: local file 'Demo Tape.mp3' is not on Spotify, skipped" in stderr
    assert "position 110: episode 'Episode 7' is not a song, skipped" in stderr


def test_song_tags_and_cover(world: World, library: tuple[Path, Path, str, str]) -> None:
    out = library[0]
    path = out / "Solo Artist" / "Solo Album" / "101 - Duet Song.mp3"
    tags = read_tags(path)
    assert tags.title == "Duet Song"
    assert tags.artists == ["Solo Artist", "Guest Star"]  # separate values
    assert (tags.album, tags.album_artists, tags.date) == ("Solo Album", ["Solo Artist"], "2022")
    # a single track's disc total is unknown without fetching its album: only "1" is written
    assert (tags.track, tags.disc, tags.isrc) == ((1, 1), (1, None), "QZSOL0000001")
    assert tags.url == f"https://open.spotify.com/track/{world.ids['song']}"
    assert tags.cover == world.media.images["cover.png"]


def test_album_files_names_and_tags(world: World, library: tuple[Path, Path, str, str]) -> None:
    album_dir = library[0] / "The Testers" / "First Album"
    names = sorted(p.name for p in album_dir.iterdir())
    assert names == [
        "101 - Opening Song.mp3",
        "102 - Second_ The Sequel_Part 2_.mp3",  # reserved characters never make folders
        "201 - Disc Two Song.mp3",
    ]
    tags = read_tags(album_dir / "201 - Disc Two Song.mp3")
    assert (tags.title, tags.track, tags.disc, tags.genre) == (
        "Disc Two Song",
        (1, 3),
        (2, 2),
        "indie rock",
    )
    assert tags.date == "2019-05-03"
    assert tags.cover == world.media.images["cover.png"]


def test_artist_albums_and_singles_deduplicated(library: tuple[Path, Path, str, str]) -> None:
    artist_dir = library[0] / "Prolific"
    files = sorted(str(p.relative_to(artist_dir)) for p in artist_dir.rglob("*.mp3"))
    assert files == ["LP/101 - Hit One.mp3", "LP/102 - Hit Two.mp3"]
    assert read_tags(artist_dir / "LP" / "101 - Hit One.mp3").genre == "synthpop"


def test_playlist_m3u8_line_by_line(world: World, library: tuple[Path, Path, str, str]) -> None:
    out = library[0]
    playlist = out / "Road Trip ✓.m3u8"
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[1] == "# musicdl source: " + world.url("playlist", "playlist")
    body = lines[2:]
    assert len(body) == 2 * len(world.playlist_tracks) == 2 * 122
    for i, tid in enumerate(world.playlist_tracks):
        t = track_from_api(world.spotify.tracks[tid])
        extinf, rel = body[2 * i], body[2 * i + 1]
        assert extinf == f"#EXTINF:2,{', '.join(t.artists)} - {t.title}"
        assert not rel.startswith("/")
        target = out / rel
        assert target.is_file(), rel
        assert read_tags(target).title == t.title
    assert body[1] == "Various Band/Pool/101 - Road Song 001.mp3"
    assert "Solo Artist/Solo Album/101 - Duet Song.mp3" in body  # shared with the song item


def test_rerun_skips_everything(world: World, library: tuple[Path, Path, str, str]) -> None:
    out, config, _, _ = library
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp3")}
    proc = run_download(config, out, world.env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^skipped\s+126$", proc.stdout, re.M)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mp3")} == before
    assert (out / "Road Trip ✓.m3u8").read_text(encoding="utf-8").count("#EXTINF") == 122


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_end_to_end(world: World, tmp_path: Path, fmt: str) -> None:
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": fmt, "bitrate": "96k", "output": "{artists} - {title}.{output-ext}"},
        albums=[{"First Album": world.url("album", "album")}],
    )
    out = tmp_path / "out"
    proc = run_download(config, out, world.env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    ext = "ogg" if fmt == "ogg" else fmt
    assert files == [
        f"The Testers - Disc Two Song.{ext}",
        f"The Testers - Opening Song.{ext}",
        f"The Testers - Second_ The Sequel_Part 2_.{ext}",
    ]
    tags = read_tags(out / f"The Testers - Opening Song.{ext}")
    assert (tags.title, tags.artists, tags.album, tags.album_artists) == (
        "Opening Song",
        ["The Testers"],
        "First Album",
        ["The Testers"],
    )
    assert (tags.date, tags.genre, tags.track, tags.disc, tags.isrc) == (
        "2019-05-03",
        "indie rock",
        (1, 3),
        (1, 2),
        "QZTST0000001",
    )
    assert tags.url.startswith("https://open.spotify.com/track/")
    assert tags.cover == world.media.images["cover.png"]


def test_failures_exit_1_and_leave_no_partial_files(world: World, tmp_path: Path) -> None:
    fake, media = world.spotify, world.media
    artist = fake.add_artist("Broken Band")
    album = fake.add_album(
        "Damaged",
        [artist],
        [
            {"name": "Corrupt Download", "duration_ms": 1500, "isrc": "QZBRK0000001"},
            {"name": "Nowhere To Be Found", "duration_ms": 1500, "isrc": "QZBRK0000002"},
            {"name": "Fine Song", "duration_ms": 1500, "isrc": "QZBRK0000003"},
        ],
    )
    corrupt, missing, fine = fake.album_tracks[album]
    register_track(fake, media, corrupt, clip="broken", decoys=False)
    register_track(fake, media, fine)
    playlist = fake.add_playlist("Mixed Luck", [corrupt, missing, fine])
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3", "max_retries": 1},
        playlists=[{"Mixed": FakeSpotifyUrl.playlist(playlist)}],
        albums=[{"Gone": FakeSpotifyUrl.album("0000000000000000000404")}],
    )
    out = tmp_path / "out"
    proc = run_download(config, out, world.env())
    assert proc.returncode == 1
    band = out / "Broken Band" / "Damaged"
    assert sorted(p.name for p in band.iterdir()) == ["103 - Fine Song.mp3"]
    assert temp_leftovers(out) == []
    assert "attempt 1/2 failed" in proc.stderr  # the corrupt file was retried
    assert re.search(r"^failed\s+2$", proc.stdout, re.M)
    assert re.search(r"^items failed\s+1$", proc.stdout, re.M)
    assert "Broken Band - Nowhere To Be Found: no match on youtube-music, youtube" in proc.stdout
    assert "album Gone: Spotify album 0000000000000000000404: HTTP 404" in proc.stdout
    # the playlist is still written, without the failed tracks
    assert (out / "Mixed Luck.m3u8").read_text(encoding="utf-8").splitlines() == [
        "#EXTM3U",
        "# musicdl source: " + FakeSpotifyUrl.playlist(playlist),
        "#EXTINF:2,Broken Band - Fine Song",
        "Broken Band/Damaged/103 - Fine Song.mp3",
    ]


class FakeSpotifyUrl:
    @staticmethod
    def playlist(pid: str) -> str:
        return f"https://open.spotify.com/playlist/{pid}"

    @staticmethod
    def album(aid: str) -> str:
        return f"https://open.spotify.com/album/{aid}"


def test_overwrite_and_metadata_modes(world: World, tmp_path: Path) -> None:
    song = {"Duet": world.url("track", "song")}
    out = tmp_path / "out"
    target = out / "Solo Artist" / "Solo Album" / "101 - Duet Song.flac"
    first = world.write_config(tmp_path / "a.yaml", {"format": "flac"}, songs=[song])
    assert run_download(first, out, world.env()).returncode == 0

    tags = read_tags(target)
    tags.title = "Tampered"
    write_tags(target, "flac", tags, None)

    meta = world.write_config(
        tmp_path / "b.yaml", {"format": "flac", "overwrite": "metadata"}, songs=[song]
    )
    proc = run_download(meta, out, world.env())
    assert proc.returncode == 0
    assert "tagged: Solo Artist, Guest Star - Duet Song" in proc.stderr
    assert read_tags(target).title == "Duet Song"
    assert read_tags(target).cover == world.media.images["cover.png"]

    inode = target.stat().st_ino
    again = world.write_config(
        tmp_path / "c.yaml", {"format": "flac", "overwrite": "overwrite"}, songs=[song]
    )
    proc = run_download(again, out, world.env())
    assert proc.returncode == 0
    assert "ok: Solo Artist, Guest Star - Duet Song" in proc.stderr
    assert target.stat().st_ino != inode  # a fresh file renamed into place


def test_interrupted_run_leaves_no_partial_file_and_next_run_finishes(
    world: World, tmp_path: Path
) -> None:
    fake, media = world.spotify, world.media
    artist = fake.add_artist("Slow Band")
    album = fake.add_album(
        "Patience", [artist], [{"name": "Long Wait", "duration_ms": 1500, "isrc": "QZSLO0000001"}]
    )
    tid = fake.album_tracks[album][0]
    query = search_query(track_from_api(fake.tracks[tid]))
    media.add_results("ytmusic", query, [Result("Slow Band - Long Wait", 1.5, "stall")])
    out = tmp_path / "out"
    config = world.write_config(
        tmp_path / "config.yaml", {"format": "mp3"}, albums=[{"P": FakeSpotifyUrl.album(album)}]
    )
    proc = subprocess.Popen(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(out)],
        env=world.env(),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if temp_leftovers(out) and any("/audio/stall/" in r for r in media.requests):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the download never started")
        time.sleep(0.5)  # let some bytes land in the temp file
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group we started: python + aria2c
        proc.wait(timeout=30)
    final = out / "Slow Band" / "Patience" / "101 - Long Wait.mp3"
    assert not final.exists()
    assert not list(out.rglob("*.mp3"))
    assert temp_leftovers(out)  # the interrupted run's temp folder is still there

    media.add_results("ytmusic", query, [Result("Slow Band - Long Wait", 1.5, "a")])
    done = run_download(config, out, world.env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert final.is_file() and read_tags(final).title == "Long Wait"
    assert temp_leftovers(out) == []
    assert "removed 1 unfinished temp folder(s)" in done.stderr


def test_rate_limits_wait_briefly_or_fail_the_item(world: World, tmp_path: Path) -> None:
    fake, media = world.spotify, world.media
    artist = fake.add_artist("Busy Band")
    quick = fake.add_album(
        "Quick", [artist], [{"name": "Soon", "duration_ms": 1500, "isrc": "QZBSY0000001"}]
    )
    slow = fake.add_album(
        "Slow", [artist], [{"name": "Never", "duration_ms": 1500, "isrc": "QZBSY0000002"}]
    )
    register_track(fake, media, fake.album_tracks[quick][0])
    fake.rate_limit(f"/v1/albums/{quick}", retry_after=1, times=1)
    fake.rate_limit(f"/v1/albums/{slow}", retry_after=7200, times=1)
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3", "rate_limit_max_wait": 10},
        albums=[{"Quick": FakeSpotifyUrl.album(quick)}, {"Slow": FakeSpotifyUrl.album(slow)}],
    )
    start = time.monotonic()
    proc = run_download(config, tmp_path / "out", world.env())
    assert time.monotonic() - start < 60  # never sits out a two-hour Retry-After
    assert proc.returncode == 1
    assert "waiting 1s (Retry-After)" in proc.stderr
    assert (tmp_path / "out" / "Busy Band" / "Quick" / "101 - Soon.mp3").is_file()
    assert (
        f"album Slow: Spotify album {slow}: rate limited (HTTP 429), Retry-After 7200s"
        in proc.stdout
    )


@pytest.mark.parametrize(
    ("sig", "code", "whole_group"),
    [
        (signal.SIGINT, 130, True),  # Ctrl-C in a terminal: python, yt-dlp's aria2c/ffmpeg
        (signal.SIGTERM, 143, False),  # docker stop / kill: the python process only
    ],
)
def test_ctrl_c_and_sigterm_stop_promptly_and_the_next_run_finishes(
    world: World, tmp_path: Path, sig: signal.Signals, code: int, whole_group: bool
) -> None:
    fake, media = world.spotify, world.media
    artist = fake.add_artist(f"Halting Band {sig.name}")
    album = fake.add_album(
        "Brakes",
        [artist],
        [
            {"name": f"Stop {n}", "duration_ms": 1500, "isrc": f"QZHLT{sig.value:02d}0000{i}"}
            for i, n in enumerate(["One", "Two", "Three"], start=1)
        ],
    )
    tids = fake.album_tracks[album]
    queries = [search_query(track_from_api(fake.tracks[t])) for t in tids]
    for q in queries:
        media.add_results("ytmusic", q, [Result(q, 1.5, "stall")])
    out = tmp_path / "out"
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3", "threads": 1, "max_retries": 3},
        albums=[{"B": FakeSpotifyUrl.album(album)}],
    )

    def searches() -> int:
        return sum(1 for r in media.requests if r.endswith("/search"))

    proc = subprocess.Popen(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(out)],
        env=world.env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if temp_leftovers(out) and list(out.rglob("audio.*")):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the download never started")
        time.sleep(0.5)
        before = searches()
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        start = time.monotonic()
        _stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == code, stderr[-2000:]
    assert took < 10, f"took {took:.1f}s to stop"
    assert "Traceback" not in stderr
    assert "interrupted; finished files are kept" in stderr
    assert searches() == before, "a new download started after the signal"
    assert not list(out.rglob("*.mp3"))
    assert temp_leftovers(out) == []  # the unfinished temp folder went with the run

    for q in queries:
        media.add_results("ytmusic", q, [Result(q, 1.5, "a")])
    done = run_download(config, out, world.env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(out.rglob("*.mp3"))) == 3


def test_wrong_credentials_are_one_line_and_exit_2(world: World, tmp_path: Path) -> None:
    # Each item used to fail on its own with the same login error (500 items, 500 lines)
    # and the run exited 1 as if some downloads had failed.
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3"},
        songs=[{"Duet": world.url("track", "song")}],
        albums=[{"First": world.url("album", "album")}],
    )
    env = world.env() | {"SPOTIFY_CLIENT_SECRET": "wrong"}
    proc = run_download(config, tmp_path / "out", env)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].endswith(
        "Spotify login failed: the credentials were rejected (invalid_client: Invalid "
        "client); check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
    )
    assert "Traceback" not in proc.stderr
    assert "Summary" not in proc.stdout


MISSING_TRACK = "https://open.spotify.com/track/0000000000000000000404"


def test_summary_survives_a_terminal_that_is_not_utf8(world: World, tmp_path: Path) -> None:
    # On a latin-1/cp1252 console the summary's print() raised UnicodeEncodeError after the
    # whole run: a traceback instead of the table. Here the failure line has an emoji.
    config = world.write_config(
        tmp_path / "config.yaml", {"format": "mp3"}, songs=[{"Café ☕": MISSING_TRACK}]
    )
    proc = subprocess.run(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(tmp_path / "out")],
        env=world.env() | {"PYTHONIOENCODING": "latin-1"},
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    assert b"  track Caf\xe9 \\u2615: Spotify track 0000000000000000000404: HTTP 404" in (
        proc.stdout
    )


def test_closed_stdout_is_one_line_not_a_traceback(world: World, tmp_path: Path) -> None:
    # `download.py | head -3`, or stdout on a full disk: printing the summary raised
    # BrokenPipeError/OSError with a traceback, and the exit code no longer told the truth.
    config = world.write_config(
        tmp_path / "config.yaml", {"format": "mp3"}, songs=[{"A": MISSING_TRACK}]
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read what the summary prints
    try:
        proc = subprocess.run(
            [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(tmp_path / "out")],
            env=world.env(),
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 1  # the Spotify item failed: that is still the exit code
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith("ERROR   cannot print the summary: Broken pipe")
    )
