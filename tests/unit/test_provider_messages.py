"""Download failures are reported in words a user can act on."""

from __future__ import annotations

from core.provider import download_failure


def test_aria2c_disk_full_is_named() -> None:
    # aria2c's exit code 9 is "not enough disk space"; the bare code told the user nothing.
    assert download_failure("ERROR: aria2c exited with code 9") == (
        "download failed: not enough disk space (aria2c exited with code 9)"
    )


def test_other_errors_are_kept_as_they_are() -> None:
    assert download_failure("ERROR: HTTP Error 404: Not Found") == (
        "download failed: ERROR: HTTP Error 404: Not Found"
    )
