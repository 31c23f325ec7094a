"""The end-of-run summary counts every status and lists each failure with its reason."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from core.downloader import (
    FAILED,
    OK,
    SKIPPED,
    Result,
    RunReport,
    clean_stale_temp,
    format_summary,
)
from core.track import Track


def track(title: str) -> Track:
    return Track(title.lower(), title, ("Band",), "Al", ("Band",), 1000, "u")


def test_summary_table_and_exit_status() -> None:
    report = RunReport(
        results=[
            Result(track("One"), OK),
            Result(track("Two"), SKIPPED),
            Result(track("Three"), FAILED, reason="no match on youtube scored >= 0.6"),
        ],
        item_failures=[("playlist Mix", "Spotify playlist p: rate limited")],
    )
    text = format_summary(report)
    lines = text.splitlines()
    assert "ok                1" in lines
    assert "skipped           1" in lines
    assert "failed            1" in lines
    assert "items failed      1" in lines
    assert "  Band - Three: no match on youtube scored >= 0.6" in lines
    assert "  playlist Mix: Spotify playlist p: rate limited" in lines
    assert report.failed


def test_all_ok_is_not_failed() -> None:
    assert not RunReport(results=[Result(track("One"), OK)]).failed


def test_stale_temp_folders_and_playlist_parts_are_cleaned(tmp_path: Path) -> None:
    album = tmp_path / "Band" / "Album"
    (album / ".musicdl-tmp-abc").mkdir(parents=True)
    (album / ".musicdl-tmp-abc" / "audio.m4a").write_bytes(b"half")
    (tmp_path / ".musicdl-x.m3u8.part").write_text("#EXTM3U\n")
    keep = album / "01 - Song.mp3"
    keep.write_bytes(b"done")
    assert clean_stale_temp(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["01 - Song.mp3", "Album", "Band"]


def test_a_temp_folder_a_live_run_holds_is_not_cleaned(tmp_path: Path) -> None:
    # The library lock covers one folder: a run started on a folder above or below a running
    # one deleted that run's in-flight temp folders as leftovers.
    inflight = tmp_path / "Band" / ".musicdl-tmp-live"
    inflight.mkdir(parents=True)
    held = os.open(inflight, os.O_RDONLY)  # what the running download.py holds
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert clean_stale_temp(tmp_path) == 0
        assert inflight.is_dir()
    finally:
        os.close(held)
    assert clean_stale_temp(tmp_path) == 1
