"""Real yt-dlp + ffmpeg + mutagen against the local media server, for each of the six formats:
the converted file has the right codec, and tags + cover read back identical."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from core import provider
from core.cache import TTLLRUCache
from core.metadata import CoverFetcher, Tags, read_tags, write_tags
from tests.fixtures.media_server import MediaServer, Result

CODEC = {
    "mp3": "mp3",
    "m4a": "aac",
    "flac": "flac",
    "opus": "opus",
    "ogg": "vorbis",
    "wav": "pcm_s16le",
}


def probe_codec(path: Path) -> str:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["streams"][0]["codec_name"]


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "flac", "opus", "ogg", "wav"])
@pytest.mark.parametrize("source", ["m4a", "webm"])
def test_download_convert_tag_read_back(
    fmt: str, source: str, media: MediaServer, tmp_path: Path, no_proxy_env: None
) -> None:
    clip = "a" if source == "m4a" else "b"
    url = media.audio_url(Result("x", 1.5, clip, source))
    audio = provider.download_audio(url, tmp_path, fmt, "96k")
    assert audio.suffix == f".{provider.CODECS[fmt][1]}"
    assert probe_codec(audio) == CODEC[fmt]

    cover = CoverFetcher(TTLLRUCache(10, 60)).get(f"{media.url}/cover/cover.png")
    assert cover is not None and cover.mime == "image/png"
    tags = Tags(
        title="Größe & Ünïcode ✓",
        artists=["First Artist", "Second Artist"],
        album="The Album",
        album_artists=["First Artist"],
        date="2020-07-17",
        genre="electronic",
        track=(4, 12),
        disc=(2, 2),
        isrc="USUM71703861",
        url="https://open.spotify.com/track/0000000000000000000001",
    )
    write_tags(audio, fmt, tags, cover)
    got = read_tags(audio)
    assert got.cover == media.images["cover.png"]
    got.cover = None
    assert got == tags
    assert probe_codec(audio) == CODEC[fmt]  # still a valid file after tagging


def test_broken_audio_raises_and_leaves_no_output(
    media: MediaServer, tmp_path: Path, no_proxy_env: None
) -> None:
    url = media.audio_url(Result("x", 1.5, "broken", "m4a"))
    with pytest.raises(provider.ProviderError):
        provider.download_audio(url, tmp_path, "mp3", "128k", retries=0)
    assert not list(tmp_path.glob("*.mp3"))


def test_missing_cover_gives_none_and_a_warning(
    media: MediaServer, caplog: pytest.LogCaptureFixture, no_proxy_env: None
) -> None:
    assert CoverFetcher(TTLLRUCache(10, 60)).get(f"{media.url}/cover/missing.png") is None
    assert "could not be fetched" in caplog.text
