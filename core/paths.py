"""Output template -> safe, unique, byte-length-aware path. One sanitizer for every OS."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from core.track import Track

MAX_COMPONENT_BYTES = 255
_RESERVED_CHARS = re.compile(r'[/\\:*?"<>|]')
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Device names Windows reserves, with any extension ("NUL.tar.gz" is NUL) and with spaces
# before the dot ("CON .x"); ¹²³ count as digits there.
_WINDOWS_RESERVED = re.compile(
    r"^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])(?= *(\.|$))", re.IGNORECASE
)
EXTENSIONS = {
    "mp3": "mp3",
    "m4a": "m4a",
    "flac": "flac",
    "opus": "opus",
    "ogg": "ogg",
    "wav": "wav",
}


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut `text` to at most `max_bytes` of UTF-8 without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def sanitize_component(
    name: str, max_bytes: int = MAX_COMPONENT_BYTES, suffix: str = "", ext: str = ""
) -> str:
    """Make `name + suffix + ext` a valid file or folder name on Linux, macOS and Windows.

    Reserved characters become `_`, control characters disappear, leading/trailing spaces
    and trailing dots go, reserved Windows device names get a `_`, and the result fits
    `max_bytes` of UTF-8 (the stem is shortened, never the extension or suffix).
    """
    # NFC: macOS would otherwise store a precomposed and a decomposed "é" as one name
    clean = unicodedata.normalize("NFC", name)
    clean = re.sub(r"[\t\n\r\v\f]", " ", _RESERVED_CHARS.sub("_", clean))
    clean = re.sub(r" +", " ", _CONTROL_CHARS.sub("", clean)).strip(" .")
    if not clean:
        clean = "_"
    clean = _WINDOWS_RESERVED.sub(r"\1_", clean)  # "AUX.Remix" -> "AUX_.Remix"
    budget = max_bytes - len(suffix.encode("utf-8")) - len(ext.encode("utf-8"))
    clean = truncate_utf8(clean, max(budget, 1)).rstrip(" .") or "_"
    return clean + suffix + ext


def template_values(track: Track, fmt: str) -> dict[str, str]:
    return {
        "artist": track.artist,
        "artists": ", ".join(track.artists),
        "album": track.album,
        "album-artist": track.album_artists[0] if track.album_artists else track.artist,
        "title": track.title,
        "track-number": f"{track.track_number:02d}",
        "track-total": str(track.track_total or ""),
        "disc-number": str(track.disc_number),
        "disc-total": str(track.disc_total or ""),
        "year": track.year,
        "date": track.release_date,
        "genre": track.genres[0] if track.genres else "",
        "isrc": track.isrc or "",
        "track-id": track.id,
        "output-ext": EXTENSIONS[fmt],
    }


def render(template: str, track: Track, fmt: str, suffix: str = "") -> PurePosixPath:
    """Fill the template; every value is sanitized first, so a `/` inside a title never
    creates a folder. `suffix` (e.g. ` (2)`) goes before the extension of the last part."""
    values = {k: _RESERVED_CHARS.sub("_", v) for k, v in template_values(track, fmt).items()}
    filled = re.sub(r"\{([^{}]*)\}", lambda m: values.get(m.group(1), m.group(0)), template)
    parts = [p for p in filled.split("/") if p.strip()]
    if not parts:
        parts = [values["title"] + "." + values["output-ext"]]
    dirs = [sanitize_component(p) for p in parts[:-1]]
    last = parts[-1]
    ext = "." + values["output-ext"]
    stem = last[: -len(ext)] if last.endswith(ext) else last
    name = sanitize_component(stem, suffix=suffix, ext=ext if last.endswith(ext) else "")
    return PurePosixPath(*dirs, name)


class PathAllocator:
    """Hands out one relative path per track id. The same track always gets the same path;
    a different track that would land on a taken path gets ` (2)`, ` (3)`, ... A path is
    taken when an earlier track of this run has it, or when a file already there belongs
    to another track: `owner(path)` returns the Spotify URL stored in the file at `path`,
    or None when there is no such file or it names no track. So a name a track got
    in an earlier run stays its own, whatever order the config lists things in now."""

    def __init__(
        self,
        template: str,
        fmt: str,
        owner: Callable[[PurePosixPath], str | None] | None = None,
    ) -> None:
        self.template = template
        self.fmt = fmt
        self.owner = owner or (lambda _path: None)
        self._by_track: dict[str, PurePosixPath] = {}
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def _free_for(self, path: PurePosixPath, track: Track) -> bool:
        if str(path).casefold() in self._taken:  # case-insensitive filesystems (macOS, Windows)
            return False
        return self.owner(path) in (None, track.url)

    def allocate(self, track: Track) -> PurePosixPath:
        with self._lock:
            if track.id in self._by_track:
                return self._by_track[track.id]
            n = 1
            while True:
                path = render(self.template, track, self.fmt, "" if n == 1 else f" ({n})")
                if self._free_for(path, track):
                    break
                n += 1
            self._taken.add(str(path).casefold())
            self._by_track[track.id] = path
            return path


def resolve_under(root: Path, relative: PurePosixPath) -> Path:
    """Join and make sure the result stays inside `root`. The check is on the path as
    written, not on where symlinks lead: a folder inside the library may be a symlink to
    another disk."""
    if relative.is_absolute() or any(part in ("", ".", "..") for part in relative.parts):
        raise ValueError(f"output path {relative} escapes {root}")
    return root.resolve() / Path(*relative.parts)
