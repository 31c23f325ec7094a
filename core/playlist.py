"""UTF-8 M3U (.m3u8) playlists with paths relative to the playlist file, written atomically."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PlaylistEntry:
    path: Path
    duration_s: int
    artist: str
    title: str


SOURCE_PREFIX = "# musicdl source: "


def render_m3u8(playlist_path: Path, entries: list[PlaylistEntry], source: str = "") -> str:
    """`#EXTM3U`, a comment naming the Spotify playlist it was made from, then
    `#EXTINF:<seconds>,<artist> - <title>` and the relative path per entry."""
    base = playlist_path.parent
    lines = ["#EXTM3U"]
    if source:
        lines.append(SOURCE_PREFIX + source)
    for e in entries:
        label = re.sub(r"[\t\n\r\v\f]", " ", f"{e.artist} - {e.title}")
        rel = Path(os.path.relpath(e.path, base)).as_posix()
        if rel.startswith("#"):
            rel = "./" + rel  # a line starting with '#' is a comment/directive in M3U
        lines += [f"#EXTINF:{e.duration_s},{label}", rel]
    return "\n".join(lines) + "\n"


def playlist_source(playlist_path: Path) -> str | None:
    """The Spotify playlist URL an existing .m3u8 was written for; "" when the file names
    none (made by hand or by another tool), None when there is no file."""
    try:
        with playlist_path.open(encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(2)]
    except FileNotFoundError:
        return None
    except OSError:
        return ""  # there, but unreadable: not ours to overwrite
    for line in head:
        if line.startswith(SOURCE_PREFIX):
            return line[len(SOURCE_PREFIX) :].strip()
    return ""


def write_m3u8(playlist_path: Path, entries: list[PlaylistEntry], source: str = "") -> None:
    """Write via a temp file in the same folder + os.replace: never a half-written playlist.
    The file gets the permissions of any new file (0644 under umask 022), so a media server
    running as another user can read it."""
    playlist_path.parent.mkdir(parents=True, exist_ok=True)
    text = render_m3u8(playlist_path, entries, source)
    tmp = playlist_path.parent / f".musicdl-{secrets.token_hex(8)}.m3u8.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        tmp.replace(playlist_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
