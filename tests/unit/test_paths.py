"""Output paths: safe on every OS, at most 255 bytes per name, distinct for distinct tracks."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from core.paths import PathAllocator, render, resolve_under, sanitize_component, truncate_utf8
from core.track import Track

TEMPLATE = "{artist}/{album}/{disc-number}{track-number} - {title}.{output-ext}"


def make(tid: str = "t1", title: str = "Song", artist: str = "Band", **kw: object) -> Track:
    base: dict[str, object] = {
        "id": tid,
        "title": title,
        "artists": (artist, "Guest"),
        "album": "Album",
        "album_artists": (artist,),
        "duration_ms": 200000,
        "url": f"https://open.spotify.com/track/{tid}",
        "release_date": "1999-12-31",
        "track_number": 3,
        "disc_number": 1,
    }
    base.update(kw)
    return Track(**base)  # type: ignore[arg-type]


def test_template_keys() -> None:
    t = make()
    assert render(TEMPLATE, t, "flac") == PurePosixPath("Band/Album/103 - Song.flac")
    other = "{artists}|{album-artist}|{year}|{track-number}|{output-ext}"
    assert str(render(other, t, "ogg")) == "Band, Guest_Band_1999_03_ogg"


def test_separators_in_values_never_create_folders() -> None:
    t = make(title="AC/DC: Back\\In <Black>?", artist="Me/You")
    path = render(TEMPLATE, t, "mp3")
    assert path.parts == ("Me_You", "Album", "103 - AC_DC_ Back_In _Black__.mp3")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('a*b?c"d<e>f|g', "a_b_c_d_e_f_g"),
        ("tab\there\x00\x1f", "tab here"),
        ("CON", "CON_"),
        ("lpt1.mp3", "lpt1_.mp3"),
        # Windows reserves the device name before any extension: the "_" goes right after it
        ("AUX.Remix", "AUX_.Remix"),
        ("con.fusion", "con_.fusion"),
        ("COM0.Intro", "COM0_.Intro"),
        ("COM¹", "COM¹_"),
        ("CONIN$", "CONIN$_"),
        ("CON .x", "CON_ .x"),
        ("Conan.mp3", "Conan.mp3"),
        ("Console", "Console"),
        ("trailing dots...", "trailing dots"),
        ("  spaces  ", "spaces"),
        ("..", "_"),
        ("", "_"),
    ],
)
def test_sanitize_component(raw: str, clean: str) -> None:
    assert sanitize_component(raw) == clean


def test_long_multibyte_name_fits_255_bytes_without_cutting_a_character() -> None:
    title = "日本語のとても長いタイトル" * 30  # 3 bytes per character
    name = render("{title}.{output-ext}", make(title=title), "opus").name
    assert len(name.encode("utf-8")) <= 255
    assert name.endswith(".opus")
    name.encode("utf-8").decode("utf-8")  # still valid UTF-8
    assert name[:-5] == title[: len(name) - 5]


def test_truncate_utf8_keeps_whole_characters() -> None:
    assert truncate_utf8("aé€😀", 7) == "aé€"
    assert truncate_utf8("aé€😀", 6) == "aé€"
    assert truncate_utf8("aé€😀", 5) == "aé"


def test_long_folder_names_are_limited_too() -> None:
    path = render(TEMPLATE, make(artist="ß" * 300), "mp3")
    assert all(len(p.encode()) <= 255 for p in path.parts)


def test_collisions_get_distinct_deterministic_names() -> None:
    def allocate() -> list[str]:
        alloc = PathAllocator(TEMPLATE, "mp3")
        tracks = [make("a"), make("b"), make("c", title="SONG"), make("a")]
        return [str(alloc.allocate(t)) for t in tracks]

    first = allocate()
    assert first == [
        "Band/Album/103 - Song.mp3",
        "Band/Album/103 - Song (2).mp3",
        "Band/Album/103 - SONG (3).mp3",  # case-insensitive filesystems would merge these
        "Band/Album/103 - Song.mp3",  # the same track keeps its path
    ]
    assert allocate() == first


def test_suffix_fits_in_the_byte_limit() -> None:
    alloc = PathAllocator("{title}.{output-ext}", "flac")
    long = "é" * 200
    alloc.allocate(make("a", title=long))
    second = alloc.allocate(make("b", title=long))
    assert second.name.endswith(" (2).flac")
    assert len(second.name.encode()) <= 255


def test_resolve_under_stays_inside(tmp_path: Path) -> None:
    assert resolve_under(tmp_path, PurePosixPath("a/b.mp3")) == tmp_path.resolve() / "a/b.mp3"
    with pytest.raises(ValueError):
        resolve_under(tmp_path, PurePosixPath("../x.mp3"))


def test_resolve_under_allows_a_symlinked_folder_inside_the_library(tmp_path: Path) -> None:
    # An artist folder symlinked to another disk made resolve() leave the root, and the
    # ValueError ended the whole run with a traceback.
    root, elsewhere = tmp_path / "library", tmp_path / "other-disk"
    root.mkdir()
    elsewhere.mkdir()
    (root / "Band").symlink_to(elsewhere, target_is_directory=True)
    got = resolve_under(root, PurePosixPath("Band/Album/01 - Song.mp3"))
    assert got == root.resolve() / "Band" / "Album" / "01 - Song.mp3"
    for bad in ("../x.mp3", "a/../../x.mp3", "/etc/x.mp3"):
        with pytest.raises(ValueError):
            resolve_under(root, PurePosixPath(bad))


def test_a_file_of_another_track_keeps_its_name() -> None:
    # A name that another track got in an earlier run is not this track's file: it used to
    # be "skipped" (or retagged) as if it were, whatever order the config listed things in.
    on_disk = {"Song.mp3": make("earlier").url, "Song (2).mp3": make("b").url}
    alloc = PathAllocator("{title}.{output-ext}", "mp3", owner=lambda p: on_disk.get(str(p)))
    assert str(alloc.allocate(make("b"))) == "Song (2).mp3"  # its own file, found again
    assert str(alloc.allocate(make("new"))) == "Song (3).mp3"
    assert str(alloc.allocate(make("earlier"))) == "Song.mp3"


def test_precomposed_and_decomposed_accents_are_one_name() -> None:
    # macOS stores "é" and "e" + U+0301 as one file name: two tracks would share a file.
    alloc = PathAllocator("{title}.{output-ext}", "mp3")
    first = alloc.allocate(make("a", title="Caf\u00e9"))
    second = alloc.allocate(make("b", title="Cafe\u0301"))
    assert (str(first), str(second)) == ("Caf\u00e9.mp3", "Caf\u00e9 (2).mp3")


def test_a_newline_in_a_title_stays_on_one_progress_line() -> None:
    assert make(title="Line One\nLine Two").display == "Band, Guest - Line One Line Two"
