"""The end-of-run summary counts every status and lists each failure with its reason."""

from __future__ import annotations

from core.downloader import FAILED, OK, SKIPPED, Result, RunReport, format_summary
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
