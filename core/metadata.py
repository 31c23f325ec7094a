"""Tags with mutagen, one writer per format, plus a reader that returns the same values.

mp3/wav: ID3v2.4 (TPE1 with one value per artist; WOAS holds the Spotify URL)
m4a:     MP4 atoms (©ART one value per artist; ISRC and URL as com.apple.iTunes freeform)
flac/ogg/opus: Vorbis comments (ARTIST repeated; WWWAUDIOSOURCE holds the Spotify URL;
         cover as a FLAC picture block / METADATA_BLOCK_PICTURE)
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path

import requests
from mutagen import MutagenError, id3
from mutagen.flac import FLAC, Picture
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from core.cache import TTLLRUCache
from core.track import Track

log = logging.getLogger(__name__)

ITUNES = "----:com.apple.iTunes:"


@dataclass(frozen=True)
class Cover:
    data: bytes
    mime: str


@dataclass
class Tags:
    """What we write, and what reading a file back returns."""

    title: str = ""
    artists: list[str] = field(default_factory=list)
    album: str = ""
    album_artists: list[str] = field(default_factory=list)
    date: str = ""
    genre: str = ""
    track: tuple[int, int | None] = (0, None)
    disc: tuple[int, int | None] = (0, None)
    isrc: str = ""
    url: str = ""
    cover: bytes | None = None


def tags_for(track: Track) -> Tags:
    return Tags(
        title=track.title,
        artists=list(track.artists),
        album=track.album,
        album_artists=list(track.album_artists),
        date=track.release_date,
        genre=track.genres[0] if track.genres else "",
        track=(track.track_number, track.track_total),
        disc=(track.disc_number, track.disc_total),
        isrc=track.isrc or "",
        url=track.url,
    )


def sniff_mime(data: bytes, fallback: str = "image/jpeg") -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return fallback


class CoverFetcher:
    """Fetch album art once per URL (requests), cached; failures give None and a warning."""

    def __init__(self, cache: TTLLRUCache[Cover], timeout: float = 20) -> None:
        self.cache = cache
        self.timeout = timeout
        self.failures: list[str] = []  # one line per cover URL that could not be fetched

    def get(self, url: str | None) -> Cover | None:
        if not url:
            return None
        cached = self.cache.get(("cover", url))
        if cached is not None:
            return cached
        try:
            resp = requests.get(url, timeout=self.timeout)
            resp.raise_for_status()
        except requests.RequestException as exc:
            failure = f"cover art {url} could not be fetched: {exc}"
            if failure not in self.failures:  # once per album, not once per track
                log.warning("%s", failure)
                self.failures.append(failure)
            return None
        header = resp.headers.get("Content-Type", "").split(";")[0].strip()
        mime = header if header.startswith("image/") else sniff_mime(resp.content)
        cover = Cover(resp.content, mime)
        self.cache.set(("cover", url), cover)
        return cover


def _pair(n: int, total: int | None) -> str:
    return f"{n}/{total}" if total else str(n)


def _parse_pair(text: str) -> tuple[int, int | None]:
    n, _, total = str(text).partition("/")
    return (int(n or 0), int(total) if total else None)


def _picture(cover: Cover) -> Picture:
    pic = Picture()
    pic.type = 3
    pic.mime = cover.mime
    pic.desc = "Cover"
    pic.data = cover.data
    return pic


# -- writers -------------------------------------------------------------------------------


def _id3_frames(tags: id3.ID3, t: Tags, cover: Cover | None) -> None:
    tags.clear()
    tags.add(id3.TIT2(encoding=3, text=t.title))
    tags.add(id3.TPE1(encoding=3, text=t.artists))
    tags.add(id3.TALB(encoding=3, text=t.album))
    tags.add(id3.TPE2(encoding=3, text=t.album_artists))
    if t.date:
        tags.add(id3.TDRC(encoding=3, text=t.date))
    if t.genre:
        tags.add(id3.TCON(encoding=3, text=t.genre))
    tags.add(id3.TRCK(encoding=3, text=_pair(*t.track)))
    tags.add(id3.TPOS(encoding=3, text=_pair(*t.disc)))
    if t.isrc:
        tags.add(id3.TSRC(encoding=3, text=t.isrc))
    if t.url:
        tags.add(id3.WOAS(url=t.url))
    if cover:
        tags.add(id3.APIC(encoding=3, mime=cover.mime, type=3, desc="Cover", data=cover.data))


def _write_mp3(path: Path, t: Tags, cover: Cover | None) -> None:
    audio = MP3(path)
    if audio.tags is None:
        audio.add_tags()
    _id3_frames(audio.tags, t, cover)
    audio.save(v2_version=4, v1=0)


def _write_wav(path: Path, t: Tags, cover: Cover | None) -> None:
    audio = WAVE(path)
    if audio.tags is None:
        audio.add_tags()
    _id3_frames(audio.tags, t, cover)
    audio.save(v2_version=4)


def _write_m4a(path: Path, t: Tags, cover: Cover | None) -> None:
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    tags.clear()
    tags["\xa9nam"] = [t.title]
    tags["\xa9ART"] = t.artists
    tags["\xa9alb"] = [t.album]
    tags["aART"] = t.album_artists
    if t.date:
        tags["\xa9day"] = [t.date]
    if t.genre:
        tags["\xa9gen"] = [t.genre]
    tags["trkn"] = [(t.track[0], t.track[1] or 0)]
    tags["disk"] = [(t.disc[0], t.disc[1] or 0)]
    if t.isrc:
        tags[ITUNES + "ISRC"] = [MP4FreeForm(t.isrc.encode("utf-8"))]
    if t.url:
        tags[ITUNES + "URL"] = [MP4FreeForm(t.url.encode("utf-8"))]
    if cover:
        fmt = MP4Cover.FORMAT_PNG if cover.mime == "image/png" else MP4Cover.FORMAT_JPEG
        tags["covr"] = [MP4Cover(cover.data, imageformat=fmt)]
    audio.save()


def _write_vorbis(path: Path, fmt: str, t: Tags, cover: Cover | None) -> None:
    audio = {"flac": FLAC, "ogg": OggVorbis, "opus": OggOpus}[fmt](path)
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    values: dict[str, list[str]] = {
        "TITLE": [t.title],
        "ARTIST": t.artists,
        "ALBUM": [t.album],
        "ALBUMARTIST": t.album_artists,
        "DATE": [t.date] if t.date else [],
        "GENRE": [t.genre] if t.genre else [],
        "TRACKNUMBER": [str(t.track[0])],
        "TRACKTOTAL": [str(t.track[1])] if t.track[1] else [],
        "DISCNUMBER": [str(t.disc[0])],
        "DISCTOTAL": [str(t.disc[1])] if t.disc[1] else [],
        "ISRC": [t.isrc] if t.isrc else [],
        "WWWAUDIOSOURCE": [t.url] if t.url else [],
    }
    for key, vals in values.items():
        if vals:
            audio.tags[key] = vals
    if isinstance(audio, FLAC):
        audio.clear_pictures()
        if cover:
            audio.add_picture(_picture(cover))
    elif cover:
        block = base64.b64encode(_picture(cover).write()).decode("ascii")
        audio.tags["METADATA_BLOCK_PICTURE"] = [block]
    audio.save()


def write_tags(path: Path, fmt: str, tags: Tags, cover: Cover | None) -> None:
    """Replace all tags of `path` (a `fmt` file) with `tags` and the cover."""
    if fmt == "mp3":
        _write_mp3(path, tags, cover)
    elif fmt == "wav":
        _write_wav(path, tags, cover)
    elif fmt == "m4a":
        _write_m4a(path, tags, cover)
    elif fmt in ("flac", "ogg", "opus"):
        _write_vorbis(path, fmt, tags, cover)
    else:
        raise ValueError(f"unsupported format {fmt!r}")


# -- reader --------------------------------------------------------------------------------


def _read_id3(tags: id3.ID3 | None) -> Tags:
    out = Tags()
    if tags is None:
        return out

    def text(key: str) -> list[str]:
        frame = tags.get(key)
        return [str(x) for x in frame.text] if frame else []

    out.title = "".join(text("TIT2")[:1])
    out.artists = text("TPE1")
    out.album = "".join(text("TALB")[:1])
    out.album_artists = text("TPE2")
    out.date = "".join(text("TDRC")[:1])
    out.genre = "".join(text("TCON")[:1])
    out.track = _parse_pair("".join(text("TRCK")[:1]) or "0")
    out.disc = _parse_pair("".join(text("TPOS")[:1]) or "0")
    out.isrc = "".join(text("TSRC")[:1])
    woas = tags.get("WOAS")
    out.url = woas.url if woas else ""
    pics = tags.getall("APIC")
    out.cover = pics[0].data if pics else None
    return out


def _read_m4a(audio: MP4) -> Tags:
    tags = audio.tags or {}
    out = Tags()

    def first(key: str) -> str:
        v = tags.get(key)
        return str(v[0]) if v else ""

    def free(key: str) -> str:
        v = tags.get(ITUNES + key)
        return bytes(v[0]).decode("utf-8") if v else ""

    out.title = first("\xa9nam")
    out.artists = list(tags.get("\xa9ART", []))
    out.album = first("\xa9alb")
    out.album_artists = list(tags.get("aART", []))
    out.date = first("\xa9day")
    out.genre = first("\xa9gen")
    trkn = tags.get("trkn", [(0, 0)])[0]
    disk = tags.get("disk", [(0, 0)])[0]
    out.track = (trkn[0], trkn[1] or None)
    out.disc = (disk[0], disk[1] or None)
    out.isrc = free("ISRC")
    out.url = free("URL")
    covr = tags.get("covr")
    out.cover = bytes(covr[0]) if covr else None
    return out


def _read_vorbis(audio: FLAC | OggVorbis | OggOpus) -> Tags:
    tags = audio.tags
    out = Tags()

    def vals(key: str) -> list[str]:
        return list(tags.get(key, [])) if tags else []

    def one(key: str) -> str:
        return "".join(vals(key)[:1])

    out.title = one("TITLE")
    out.artists = vals("ARTIST")
    out.album = one("ALBUM")
    out.album_artists = vals("ALBUMARTIST")
    out.date = one("DATE")
    out.genre = one("GENRE")
    out.track = (
        int(one("TRACKNUMBER") or 0),
        int(one("TRACKTOTAL")) if one("TRACKTOTAL") else None,
    )
    out.disc = (int(one("DISCNUMBER") or 0), int(one("DISCTOTAL")) if one("DISCTOTAL") else None)
    out.isrc = one("ISRC")
    out.url = one("WWWAUDIOSOURCE")
    if isinstance(audio, FLAC):
        out.cover = audio.pictures[0].data if audio.pictures else None
    elif vals("METADATA_BLOCK_PICTURE"):
        out.cover = Picture(base64.b64decode(vals("METADATA_BLOCK_PICTURE")[0])).data
    return out


def read_tags(path: Path) -> Tags:
    """Read back what write_tags wrote (format from the extension)."""
    ext = path.suffix.lower().lstrip(".")
    if ext == "mp3":
        return _read_id3(MP3(path).tags)
    if ext == "wav":
        return _read_id3(WAVE(path).tags)
    if ext == "m4a":
        return _read_m4a(MP4(path))
    if ext == "flac":
        return _read_vorbis(FLAC(path))
    if ext == "ogg":
        return _read_vorbis(OggVorbis(path))
    if ext == "opus":
        return _read_vorbis(OggOpus(path))
    raise ValueError(f"unsupported file type {path.suffix!r}")


def embedded_cover(path: Path) -> Cover | None:
    """The front cover already in the file at `path`, if any can be read."""
    try:
        data = read_tags(path).cover
    except (MutagenError, OSError, ValueError):
        return None
    return Cover(data, sniff_mime(data)) if data else None


def stored_spotify_url(path: Path) -> str | None:
    """The Spotify URL in the tags of the file at `path`; None when there is no such file,
    it cannot be read, or it carries no URL (then nobody can be said to own it)."""
    try:
        if not path.is_file():  # raises for a folder we may not enter
            return None
        return read_tags(path).url or None
    except (MutagenError, OSError, ValueError) as exc:
        log.debug("cannot read the tags of %s: %s", path, exc)
        return None
