"""Libraries that outlive one run, and names that mean something to the tools underneath."""

from __future__ import annotations

import stat
from pathlib import Path

from core.metadata import read_tags
from tests.e2e.conftest import World
from tests.fixtures.scenario import register_track, run_download


def add_song(world: World, artist: str, album: str, title: str, isrc: str) -> str:
    """A one-track album findable on the media server; returns the track's id."""
    fake = world.spotify
    album_id = fake.add_album(
        album, [fake.add_artist(artist)], [{"name": title, "duration_ms": 1500, "isrc": isrc}]
    )
    track_id = fake.album_tracks[album_id][0]
    register_track(fake, world.media, track_id, decoys=False)
    return track_id


def test_a_name_taken_in_an_earlier_run_stays_with_its_track(world: World, tmp_path: Path) -> None:
    # Two tracks that map to one file name: the second got " (2)" by config order. A later
    # run that listed them the other way round took the first track's file for the second
    # one's, "skipped" it, and playlists pointed at the wrong audio.
    first = add_song(world, "Namesake", "One", "Same Name", "QZNAM0000001")
    second = add_song(world, "NAMESAKE", "Two", "Same Name", "QZNAM0000002")
    out = tmp_path / "out"
    download = {"format": "mp3", "output": "{title}.{output-ext}"}
    run1 = world.write_config(
        tmp_path / "run1.yaml", download, songs=[{"a": world.spotify.open_url("track", first)}]
    )
    assert run_download(run1, out, world.env()).returncode == 0
    run2 = world.write_config(
        tmp_path / "run2.yaml",
        download,
        songs=[
            {"b": world.spotify.open_url("track", second)},
            {"a": world.spotify.open_url("track", first)},
        ],
    )
    proc = run_download(run2, out, world.env())

    assert proc.returncode == 0, proc.stderr
    assert "ok: NAMESAKE - Same Name" in proc.stderr
    assert "skipped: Namesake - Same Name" in proc.stderr
    assert read_tags(out / "Same Name.mp3").url.endswith(first)
    assert read_tags(out / "Same Name (2).mp3").url.endswith(second)


def test_playlist_is_readable_like_the_audio_files(world: World, tmp_path: Path) -> None:
    # Playlists were created 0600 (a private temp file renamed into place): a media server
    # running as another user could read every song but no playlist.
    track = add_song(world, "Reader", "Shared", "Open Up", "QZRDR0000001")
    playlist = world.spotify.add_playlist("Shared List", [track])
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3"},
        playlists=[{"Shared": world.spotify.open_url("playlist", playlist)}],
    )
    out = tmp_path / "out"
    assert run_download(config, out, world.env()).returncode == 0
    song = out / "Reader" / "Shared" / "101 - Open Up.mp3"
    m3u = out / "Shared List.m3u8"
    assert stat.S_IMODE(m3u.stat().st_mode) == stat.S_IMODE(song.stat().st_mode)


def test_playlist_paths_hold_when_the_library_is_reached_through_a_symlink(
    world: World, tmp_path: Path
) -> None:
    # Track paths were resolved through the symlink but the playlist's folder was not, so
    # every entry climbed out of the library to a path that does not exist.
    track = add_song(world, "Linker", "Elsewhere", "Follow Me", "QZLNK0000001")
    playlist = world.spotify.add_playlist("Linked", [track])
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3"},
        playlists=[{"Linked": world.spotify.open_url("playlist", playlist)}],
    )
    real = tmp_path / "disk" / "music"
    real.mkdir(parents=True)
    link = tmp_path / "music"
    link.symlink_to(real, target_is_directory=True)
    assert run_download(config, link, world.env()).returncode == 0

    lines = (link / "Linked.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[-1] == "Linker/Elsewhere/101 - Follow Me.mp3"
    assert (link / lines[-1]).is_file()


def test_names_that_look_like_templates_or_variables_download(world: World, tmp_path: Path) -> None:
    # The temp folder's path (artist/album) went into yt-dlp's output template, which fills
    # in %(...)s fields and expands $VARIABLES: these tracks failed on every run.
    fields = add_song(world, "Percent Band", "%(id)s Album", "Field Song", "QZPCT0000001")
    variables = add_song(world, "Dollar Band", "$HOME Sweet $HOME", "Env Song", "QZDOL0000001")
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3"},
        songs=[
            {"fields": world.spotify.open_url("track", fields)},
            {"variables": world.spotify.open_url("track", variables)},
        ],
    )
    out = tmp_path / "out"
    env = world.env() | {"HOME": str(tmp_path / "home")}
    proc = run_download(config, out, env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "Percent Band" / "%(id)s Album" / "101 - Field Song.mp3").is_file()
    assert (out / "Dollar Band" / "$HOME Sweet $HOME" / "101 - Env Song.mp3").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(".musicdl-")]


def test_a_folder_in_the_way_of_a_track_is_a_failure_not_a_skip(
    world: World, tmp_path: Path
) -> None:
    track = add_song(world, "Blocked", "Path", "In The Way", "QZBLK0000001")
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3", "max_retries": 0},
        songs=[{"blocked": world.spotify.open_url("track", track)}],
    )
    out = tmp_path / "out"
    (out / "Blocked" / "Path" / "101 - In The Way.mp3").mkdir(parents=True)
    proc = run_download(config, out, world.env())

    assert proc.returncode == 1
    assert "Blocked - In The Way: a folder is in the way" in proc.stdout
