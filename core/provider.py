"""Audio providers (YouTube Music, YouTube) through yt-dlp: search and download + convert.

Search calls `YoutubeDL.extract_info(search_url, download=False, process=False)` and turns the
flat entries into candidates. The search URL templates can be overridden from the environment
(MUSICDL_YOUTUBE_MUSIC_SEARCH_URL, MUSICDL_YOUTUBE_SEARCH_URL); tests point them at a local
server whose search endpoint answers with an RSS 2.0 feed, which yt-dlp's generic extractor
parses into entries carrying `title`, `duration` (itunes:duration) and `url` (enclosure).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import DownloadError, expand_path

from core.matching import Candidate
from core.track import Track

log = logging.getLogger(__name__)

SEARCH_TEMPLATES: dict[str, tuple[str, str]] = {
    "youtube-music": (
        "MUSICDL_YOUTUBE_MUSIC_SEARCH_URL",
        "https://music.youtube.com/search?q={query}#songs",
    ),
    "youtube": ("MUSICDL_YOUTUBE_SEARCH_URL", "ytsearch{limit}:{query}"),
}
# config format -> (yt-dlp FFmpegExtractAudio codec, file extension)
CODECS: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "mp3"),
    "m4a": ("m4a", "m4a"),
    "flac": ("flac", "flac"),
    "opus": ("opus", "opus"),
    "ogg": ("vorbis", "ogg"),
    "wav": ("wav", "wav"),
}


class ProviderError(Exception):
    """Search or download failed (transient: worth a retry)."""


class _YtdlpLogger:
    """Route yt-dlp's output into logging (debug, warnings as debug: they are noisy)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)


def _base_opts() -> dict[str, Any]:
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _YtdlpLogger(),
        "cachedir": False,
        "socket_timeout": 30,
    }


def search_query(track: Track) -> str:
    """What we type into the provider's search box."""
    return f"{', '.join(track.artists)} - {track.title}"


def search_url(provider: str, query: str, limit: int) -> str:
    env_name, default = SEARCH_TEMPLATES[provider]
    template = os.environ.get(env_name) or default
    if template.startswith(("http://", "https://")):
        query = urllib.parse.quote(query, safe="")
    return template.replace("{query}", query).replace("{limit}", str(limit))


def _entry_url(entry: dict[str, Any]) -> str | None:
    url = entry.get("url") or entry.get("webpage_url")
    if url and not url.startswith(("http://", "https://")) and entry.get("ie_key") == "Youtube":
        url = f"https://www.youtube.com/watch?v={url}"
    return url


def search(provider: str, track: Track, limit: int = 10) -> list[Candidate]:
    """Candidates from one provider, in the provider's order."""
    url = search_url(provider, search_query(track), limit)
    log.debug("searching %s: %s", provider, url)
    try:
        with yt_dlp.YoutubeDL(_base_opts()) as ydl:
            info = ydl.extract_info(url, download=False, process=False)
            entries = list(itertools.islice(info.get("entries") or [], limit)) if info else []
    except DownloadError as exc:
        raise ProviderError(f"{provider} search failed: {exc}") from None
    out: list[Candidate] = []
    for e in entries:
        if not e:
            continue
        entry_url = _entry_url(e)
        if not entry_url:
            continue
        artists = e.get("artists")
        uploader = (
            e.get("artist")
            or (", ".join(artists) if isinstance(artists, list) else None)
            or e.get("uploader")
            or e.get("channel")
            or e.get("creator")
            or ""
        )
        duration = e.get("duration")
        out.append(
            Candidate(
                provider=provider,
                url=entry_url,
                title=e.get("title") or "",
                uploader=str(uploader),
                duration=float(duration) if duration is not None else None,
                isrc=e.get("isrc"),
            )
        )
    return out


def download_failure(message: str) -> str:
    """The ProviderError text for a yt-dlp download error."""
    if "aria2c exited with code 9" in message:
        return "download failed: not enough disk space (aria2c exited with code 9)"
    return f"download failed: {message}"


def _template_dir(workdir: Path, cleanup: contextlib.ExitStack) -> str:
    """`workdir` as it may stand in yt-dlp's output template. yt-dlp fills in `%(...)s`
    fields and expands `$VAR` there, and the folder's path holds artist and album names
    ("%(id)s", "$HOME Sweet $HOME"): `%` is escaped, and where `$` would expand, a symlink
    in the system temp folder stands in for the folder."""
    path = str(workdir)
    if expand_path(path) != path:
        link = Path(tempfile.mkdtemp(prefix="musicdl-")) / "work"
        cleanup.callback(shutil.rmtree, link.parent, ignore_errors=True)
        link.symlink_to(workdir, target_is_directory=True)
        path = str(link)
    return path.replace("%", "%%")


def download_audio(url: str, workdir: Path, fmt: str, bitrate: str, retries: int = 2) -> Path:
    """Download the best audio of `url` into `workdir` and convert it to `fmt` with ffmpeg.
    Returns the converted file (still inside `workdir`)."""
    with contextlib.ExitStack() as cleanup:
        _download(url, _template_dir(workdir, cleanup), fmt, bitrate, retries)
    _codec, ext = CODECS[fmt]
    out = workdir / f"audio.{ext}"
    if not out.is_file() or out.stat().st_size == 0:
        raise ProviderError(f"conversion to {fmt} produced no file")
    return out


def _download(url: str, template_dir: str, fmt: str, bitrate: str, retries: int) -> None:
    codec, _ext = CODECS[fmt]
    opts = _base_opts() | {
        "format": "bestaudio/best",
        "outtmpl": template_dir + "/audio.%(ext)s",
        "noplaylist": True,
        "overwrites": True,
        "retries": retries,
        "fragment_retries": retries,
        "postprocessors": [
            {
                "key": "FFmpegExtractAudio",
                "preferredcodec": codec,
                "preferredquality": bitrate.rstrip("kK"),
            }
        ],
    }
    if shutil.which("aria2c"):
        opts["external_downloader"] = {"default": "aria2c"}
        opts["external_downloader_args"] = {
            "aria2c": ["--max-tries=2", "--retry-wait=1", "--connect-timeout=20", "--quiet=true"]
        }
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            ydl.extract_info(url, download=True)
    except (DownloadError, OSError) as exc:
        raise ProviderError(download_failure(str(exc))) from None
