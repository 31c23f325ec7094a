"""M3U8 playlists: header, one EXTINF per track, relative paths, order kept, atomic write."""

from __future__ import annotations

from pathlib import Path

from core.playlist import PlaylistEntry, playlist_source, write_m3u8


def test_m3u8_lines(tmp_path: Path) -> None:
    entries = [
        PlaylistEntry(
            tmp_path / "Björk" / "Début" / "01 - Human Behaviour.mp3",
            252,
            "Björk",
            "Human Behaviour",
        ),
        PlaylistEntry(tmp_path / "A" / "B" / "02 - x.mp3", 3, "A, B", "x"),
    ]
    playlist = tmp_path / "Mix.m3u8"
    write_m3u8(playlist, entries)
    raw = playlist.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8").splitlines() == [
        "#EXTM3U",
        "#EXTINF:252,Björk - Human Behaviour",
        "Björk/Début/01 - Human Behaviour.mp3",
        "#EXTINF:3,A, B - x",
        "A/B/02 - x.mp3",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["Mix.m3u8"]  # no temp file left


def test_paths_relative_to_playlist_folder(tmp_path: Path) -> None:
    playlist = tmp_path / "lists" / "p.m3u8"
    write_m3u8(playlist, [PlaylistEntry(tmp_path / "music" / "a.flac", 1, "X", "Y")])
    assert playlist.read_text().splitlines()[2] == "../music/a.flac"


def test_rewrite_replaces_the_old_playlist(tmp_path: Path) -> None:
    playlist = tmp_path / "p.m3u8"
    write_m3u8(playlist, [PlaylistEntry(tmp_path / "a.mp3", 1, "X", "Y")])
    write_m3u8(playlist, [])
    assert playlist.read_text() == "#EXTM3U\n"


def test_a_path_starting_with_hash_is_not_read_as_a_comment(tmp_path: Path) -> None:
    # In M3U a line starting with '#' is a comment or directive: the artist "#1 Dads"
    # (default template: artist folder first) vanished from every player's playlist.
    entries = [
        PlaylistEntry(
            tmp_path / "#1 Dads" / "So Soldiers" / "01 - Return.mp3", 200, "#1 Dads", "Return"
        )
    ]
    playlist = tmp_path / "Mix.m3u8"
    write_m3u8(playlist, entries)
    assert playlist.read_text(encoding="utf-8").splitlines()[2] == (
        "./#1 Dads/So Soldiers/01 - Return.mp3"
    )


def test_a_tab_in_a_title_does_not_reach_the_extinf_label(tmp_path: Path) -> None:
    playlist = tmp_path / "p.m3u8"
    write_m3u8(playlist, [PlaylistEntry(tmp_path / "a.mp3", 1, "Tab\tBand", "Line\nBreak")])
    assert playlist.read_text(encoding="utf-8").splitlines()[1] == "#EXTINF:1,Tab Band - Line Break"


def test_a_playlist_names_its_source_and_foreign_files_are_told_apart(tmp_path: Path) -> None:
    ours = tmp_path / "Chill.m3u8"
    url = "https://open.spotify.com/playlist/37i9dQZF1DX4WYpdgoIcn6"
    write_m3u8(ours, [PlaylistEntry(tmp_path / "a.mp3", 1, "X", "Y")], url)
    assert ours.read_text(encoding="utf-8").splitlines()[:2] == [
        "#EXTM3U",
        "# musicdl source: " + url,
    ]
    assert playlist_source(ours) == url
    hand_made = tmp_path / "Mine.m3u8"
    hand_made.write_text("#EXTM3U\nsome/song.mp3\n", encoding="utf-8")
    assert playlist_source(hand_made) == ""
    assert playlist_source(tmp_path / "Nothing.m3u8") is None
