"""Tags written to a WAV made with the wave module (no ffmpeg) read back identical."""

from __future__ import annotations

from pathlib import Path

from core.metadata import Cover, Tags, read_tags, sniff_mime, write_tags
from tests.fixtures.audio import make_png, write_wav


def test_wav_tags_round_trip(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", seconds=0.2)
    png = make_png()
    tags = Tags(
        title="Título ✓",
        artists=["Ä", "B"],
        album="Alb",
        album_artists=["Ä"],
        date="2001-02-03",
        genre="pop",
        track=(3, 10),
        disc=(1, 2),
        isrc="GBAYE0601498",
        url="https://open.spotify.com/track/x",
    )
    write_tags(wav, "wav", tags, Cover(png, "image/png"))
    got = read_tags(wav)
    assert got.cover == png
    got.cover = None
    assert got == tags


def test_rewriting_tags_replaces_old_values(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", seconds=0.1)
    write_tags(
        wav, "wav", Tags(title="old", artists=["x", "y"], track=(1, None), disc=(1, None)), None
    )
    write_tags(wav, "wav", Tags(title="new", artists=["z"], track=(2, None), disc=(1, None)), None)
    got = read_tags(wav)
    assert (got.title, got.artists, got.track, got.cover) == ("new", ["z"], (2, None), None)


def test_sniff_mime() -> None:
    assert sniff_mime(make_png()) == "image/png"
    assert sniff_mime(b"\xff\xd8\xff\xe0") == "image/jpeg"
