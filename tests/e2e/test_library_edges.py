"""Libraries that outlive one run, and names that mean something to the tools underneath."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from core.metadata import read_tags
from core.provider import search_query
from core.spotify import track_from_api
from tests.e2e.conftest import World
from tests.fixtures.audio import make_png
from tests.fixtures.media_server import Result
from tests.fixtures.scenario import DOWNLOAD_PY, register_track, run_download


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
    run1 = world.write_config(tmp_path / "run1.yaml", download, songs=world.songs(a=first))
    assert run_download(run1, out, world.env()).returncode == 0
    run2 = world.write_config(
        tmp_path / "run2.yaml",
        download,
        songs=world.songs(b=second, a=first),
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
        songs=world.songs(fields=fields, variables=variables),
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
        songs=world.songs(blocked=track),
    )
    out = tmp_path / "out"
    (out / "Blocked" / "Path" / "101 - In The Way.mp3").mkdir(parents=True)
    proc = run_download(config, out, world.env())

    assert proc.returncode == 1
    assert "Blocked - In The Way: a folder is in the way" in proc.stdout


def test_a_failed_rerun_keeps_the_earlier_files_in_the_playlist(
    world: World, tmp_path: Path
) -> None:
    # overwrite: overwrite on a day YouTube finds nothing: every track failed, the files of
    # the earlier run were still there, and the playlist was rewritten empty.
    tracks = [
        add_song(world, "Keeper", f"Keep {i}", f"Kept Song {i}", f"QZKEP000000{i}") for i in (1, 2)
    ]
    playlist = world.spotify.add_playlist("Keep Me", tracks)
    out = tmp_path / "out"
    sections = {"playlists": [{"Keep": world.spotify.open_url("playlist", playlist)}]}
    first = world.write_config(tmp_path / "first.yaml", {"format": "mp3"}, **sections)
    assert run_download(first, out, world.env()).returncode == 0
    before = (out / "Keep Me.m3u8").read_text(encoding="utf-8")

    for tid in tracks:  # the search now finds nothing for these tracks
        world.media.add_results(
            "ytmusic", search_query(track_from_api(world.spotify.tracks[tid])), []
        )
    again = world.write_config(
        tmp_path / "again.yaml",
        {"format": "mp3", "overwrite": "overwrite", "audio_providers": ["youtube-music"]},
        **sections,
    )
    proc = run_download(again, out, world.env())

    assert proc.returncode == 1
    assert re.search(r"^failed\s+2$", proc.stdout, re.M)
    assert (out / "Keep Me.m3u8").read_text(encoding="utf-8") == before
    assert len(list(out.rglob("*.mp3"))) == 2


def test_two_playlists_with_one_name_keep_their_own_files(world: World, tmp_path: Path) -> None:
    # Two Spotify playlists called "Chill": "Chill (2).m3u8" went to whichever came second
    # in this run, so when the first could not be fetched, the second overwrote its file.
    anna_song = add_song(world, "Anna", "Moods", "Anna Pick", "QZCHL0000001")
    ben_song = add_song(world, "Ben", "Moods", "Ben Pick", "QZCHL0000002")
    anna = world.spotify.add_playlist("Chill", [anna_song])
    ben = world.spotify.add_playlist("Chill", [ben_song])
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3"},
        playlists=[
            {"Chill (Anna)": world.spotify.open_url("playlist", anna)},
            {"Chill (Ben)": world.spotify.open_url("playlist", ben)},
        ],
    )
    out = tmp_path / "out"
    assert run_download(config, out, world.env()).returncode == 0
    assert (out / "Chill.m3u8").read_text(encoding="utf-8").endswith("101 - Anna Pick.mp3\n")
    assert (out / "Chill (2).m3u8").read_text(encoding="utf-8").endswith("101 - Ben Pick.mp3\n")

    world.spotify.rate_limit(f"/v1/playlists/{anna}", retry_after=3600)  # over the cap
    proc = run_download(config, out, world.env())

    assert proc.returncode == 1
    assert "Retry-After 3600s is over the 60s cap" in proc.stdout
    assert (out / "Chill.m3u8").read_text(encoding="utf-8").endswith("101 - Anna Pick.mp3\n")
    assert (out / "Chill (2).m3u8").read_text(encoding="utf-8").endswith("101 - Ben Pick.mp3\n")


def test_metadata_rewrite_keeps_the_cover_when_it_cannot_be_fetched(
    world: World, tmp_path: Path
) -> None:
    # overwrite: metadata cleared every tag and added a cover only if one was fetched: a
    # cover URL that failed that day stripped the file's art, with exit 0 and "warnings 0".
    world.media.images["fragile.png"] = make_png(8, 8)
    fake = world.spotify
    album = fake.add_album(
        "Canvas",
        [fake.add_artist("Painter")],
        [{"name": "Brush", "duration_ms": 1500, "isrc": "QZPNT0000001"}],
        cover_url=f"{world.media.url}/cover/fragile.png",
    )
    track = fake.album_tracks[album][0]
    register_track(fake, world.media, track, decoys=False)
    out = tmp_path / "out"
    song = {"songs": world.songs(Brush=track)}
    first = world.write_config(tmp_path / "first.yaml", {"format": "mp3"}, **song)
    assert run_download(first, out, world.env()).returncode == 0
    target = out / "Painter" / "Canvas" / "101 - Brush.mp3"
    cover = read_tags(target).cover
    assert cover == world.media.images["fragile.png"]

    del world.media.images["fragile.png"]  # the cover URL now answers 404
    retag = world.write_config(
        tmp_path / "retag.yaml", {"format": "mp3", "overwrite": "metadata"}, **song
    )
    proc = run_download(retag, out, world.env())

    assert proc.returncode == 0, proc.stderr
    assert "tagged: Painter - Brush" in proc.stderr
    assert read_tags(target).cover == cover
    assert re.search(r"^warnings\s+1$", proc.stdout, re.M)


def test_a_name_cut_in_half_by_the_api_still_downloads(world: World, tmp_path: Path) -> None:
    # JSON "Party \ud83c" (an emoji cut in half) decoded to a lone surrogate, which cannot be
    # encoded: a traceback, and no track of the run was downloaded.
    broken = add_song(world, "Surrogate", "Halves", "Party \ud83c", "QZSUR0000001")
    searched = search_query(track_from_api(world.spotify.tracks[broken])).replace(
        "\ud83c", "\ufffd"
    )
    world.media.add_results("ytmusic", searched, [Result("Surrogate - Party \ufffd", 1.5, "a")])
    fine = add_song(world, "Surrogate", "Wholes", "Fine Song", "QZSUR0000002")
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3"},
        songs=world.songs(broken=broken, fine=fine),
    )
    out = tmp_path / "out"
    proc = run_download(config, out, world.env())

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    halves = out / "Surrogate" / "Halves" / "101 - Party \ufffd.mp3"
    assert read_tags(halves).title == "Party \ufffd"
    assert (out / "Surrogate" / "Wholes" / "101 - Fine Song.mp3").is_file()


def test_a_failed_download_leaves_no_empty_folders(world: World, tmp_path: Path) -> None:
    fake = world.spotify
    album = fake.add_album(
        "Cracked",
        [fake.add_artist("Glitch")],
        [{"name": "Corrupt", "duration_ms": 1500, "isrc": "QZGLT0000001"}],
    )
    track = fake.album_tracks[album][0]
    register_track(fake, world.media, track, clip="broken", decoys=False)
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3", "max_retries": 0},
        songs=world.songs(corrupt=track),
    )
    out = tmp_path / "out"
    proc = run_download(config, out, world.env())

    assert proc.returncode == 1
    assert not (out / "Glitch").exists()


def test_a_folder_musicdl_may_not_enter_fails_only_its_tracks(world: World, tmp_path: Path) -> None:
    # A NAS library with one folder musicdl may not enter: checking who owns the files in
    # it raised PermissionError, and the whole run stopped before the first download.
    locked = add_song(world, "Locked Band", "Private", "Behind Doors", "QZLCK0000001")
    open_song = add_song(world, "Open Band", "Public", "Out In The Open", "QZLCK0000002")
    config = world.write_config(
        tmp_path / "config.yaml",
        {"format": "mp3", "max_retries": 0},
        songs=world.songs(locked=locked, open=open_song),
    )
    out = tmp_path / "out"
    door = out / "Locked Band"
    door.mkdir(parents=True)
    # root enters any folder; without these two capabilities it obeys the mode like a user
    as_user = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    argv = [sys.executable, str(DOWNLOAD_PY), str(config), "--output-dir", str(out)]
    door.chmod(0o000)
    try:
        proc = subprocess.run(
            as_user + argv if os.geteuid() == 0 else argv,
            env=world.env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        door.chmod(0o755)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "Open Band" / "Public" / "101 - Out In The Open.mp3").is_file()
    assert re.search(r"^ok\s+1$", proc.stdout, re.M)
    assert re.search(r"^failed\s+1$", proc.stdout, re.M)
    assert "Locked Band - Behind Doors: " in proc.stdout
