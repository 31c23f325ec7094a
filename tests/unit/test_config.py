"""Configuration errors are one line naming the file, the key and the problem."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import locks
from core.config import ConfigError, load_config, parse_spotify_url
from tests.fixtures.scenario import DOWNLOAD_PY, clean_env

ENV = {"SPOTIFY_CLIENT_ID": "id", "SPOTIFY_CLIENT_SECRET": "secret"}
TRACK = "https://open.spotify.com/track/4PTG3Z6ehGkBFwjybzWkR8"


def error_for(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(path, ENV if env is None else env)
    return str(exc.value).replace(str(tmp_path) + "/", "")


def test_defaults_for_every_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f'songs:\n  - "A": "{TRACK}"\n')
    cfg = load_config(path, ENV)
    dl = cfg.download
    assert (dl.threads, dl.max_retries, dl.format, dl.bitrate, dl.overwrite) == (
        1,
        5,
        "mp3",
        "128k",
        "skip",
    )
    assert dl.audio_providers == ["youtube-music", "youtube"]
    assert (dl.cache_max_size, dl.cache_ttl) == (1000, 3600)
    assert [(i.kind, i.id) for i in cfg.items] == [("track", "4PTG3Z6ehGkBFwjybzWkR8")]


def test_shipped_example_config_is_valid() -> None:
    cfg = load_config(DOWNLOAD_PY.parent / "config.yaml", ENV)
    assert cfg.version == "1.2"


def test_bad_format_names_the_choices(tmp_path: Path) -> None:
    msg = error_for(tmp_path, 'download:\n  format: "mp4"\n')
    assert msg == "config.yaml: download.format: 'mp4' is not one of mp3, m4a, flac, opus, ogg, wav"


def test_unknown_key(tmp_path: Path) -> None:
    msg = error_for(tmp_path, "download:\n  formt: mp3\n")
    assert msg.startswith("config.yaml: download.formt: unknown key (known keys: client_id,")


def test_wrong_type(tmp_path: Path) -> None:
    msg = error_for(tmp_path, "download:\n  threads: four\n")
    assert msg.startswith("config.yaml: download.threads: 'four': input should be a valid integer")


def test_out_of_range(tmp_path: Path) -> None:
    msg = error_for(tmp_path, "download:\n  threads: 0\n")
    assert msg.startswith("config.yaml: download.threads: 0: input should be greater than")


def test_bad_bitrate_and_overwrite(tmp_path: Path) -> None:
    assert error_for(tmp_path, "download:\n  bitrate: loud\n") == (
        "config.yaml: download.bitrate: 'loud' is not a bitrate like 128k, 192k or 320k"
    )
    assert error_for(tmp_path, "download:\n  overwrite: always\n") == (
        "config.yaml: download.overwrite: 'always' is not one of skip, overwrite, metadata"
    )


def test_unknown_template_key(tmp_path: Path) -> None:
    msg = error_for(tmp_path, 'download:\n  output: "{band}/{title}.{output-ext}"\n')
    assert msg.startswith("config.yaml: download.output: unknown template key {band}; known:")


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    msg = error_for(tmp_path, "download:\n  format: mp3\n   threads: [1\n")
    assert msg.startswith("config.yaml: line 3, column ")
    assert "malformed YAML" in msg


def test_wrong_spotify_url_kind(tmp_path: Path) -> None:
    msg = error_for(tmp_path, 'albums:\n  - "X": "https://open.spotify.com/track/abc123"\n')
    assert msg == (
        "config.yaml: albums[0]: 'https://open.spotify.com/track/abc123' is a track URL, "
        "expected an album URL"
    )


def test_not_a_spotify_url(tmp_path: Path) -> None:
    msg = error_for(tmp_path, 'songs:\n  - "X": "https://example.com/x"\n')
    assert msg == (
        "config.yaml: songs[0]: 'https://example.com/x' is not a Spotify "
        "track/album/artist/playlist URL"
    )


def test_missing_credentials(tmp_path: Path) -> None:
    msg = error_for(tmp_path, "download:\n  threads: 2\n", env={})
    assert msg.startswith("config.yaml: download.client_id: missing Spotify credentials")


def test_environment_credentials_win(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("download:\n  client_id: from-file\n  client_secret: file-secret\n")
    cfg = load_config(path, {"SPOTIFY_CLIENT_ID": "from-env"})
    assert (cfg.download.client_id, cfg.download.client_secret) == ("from-env", "file-secret")


def test_overrides_map_track_to_provider_url(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f'overrides:\n  "{TRACK}": "https://www.youtube.com/watch?v=x"\n')
    cfg = load_config(path, ENV)
    assert cfg.override_for("4PTG3Z6ehGkBFwjybzWkR8") == "https://www.youtube.com/watch?v=x"
    assert cfg.override_for("other") is None


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('download:\n  format: "mp4"\n')
    proc = subprocess.run(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(tmp_path / "out")],
        env=clean_env(**ENV),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        f"ERROR   {config}: download.format: 'mp4' is not one of mp3, m4a, flac, opus, ogg, wav"
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(DOWNLOAD_PY)],
        env=clean_env(**ENV),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "ERROR   config.yaml: cannot read the file:" in proc.stderr


def test_cli_reads_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "from-env.yaml"
    config.write_text("download:\n  overwrite: sometimes\n")
    proc = subprocess.run(
        [sys.executable, str(DOWNLOAD_PY)],
        env=clean_env(CONFIG_PATH=str(config), **ENV),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{config}: download.overwrite: 'sometimes' is not one of" in proc.stderr


# -- inputs found by trying to break the CLI -------------------------------------------------


@pytest.mark.parametrize("value", ["true", "false", "yes"])
def test_boolean_is_not_a_number(tmp_path: Path, value: str) -> None:
    # YAML booleans are not thread counts: pydantic's lax mode would read `true` as 1.
    message = error_for(tmp_path, f"download:\n  threads: {value}\n")
    word = "false" if value == "false" else "true"
    assert message == f"config.yaml: download.threads: {word} is not a number"


def test_boolean_is_not_a_float(tmp_path: Path) -> None:
    message = error_for(tmp_path, "download:\n  min_score: true\n")
    assert message == "config.yaml: download.min_score: true is not a number"


def test_quoted_numbers_are_still_numbers(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('download:\n  threads: "4"\n  retry_backoff: "0.5"\n')
    dl = load_config(path, ENV).download
    assert (dl.threads, dl.retry_backoff) == (4, 0.5)


def test_unquoted_version_number_is_accepted(tmp_path: Path) -> None:
    # `version: 1.2` without quotes is what people type; YAML makes it a float.
    path = tmp_path / "config.yaml"
    path.write_text("version: 1.2\n")
    assert load_config(path, ENV).version == "1.2"


def test_bitrate_without_k_says_how_to_write_it(tmp_path: Path) -> None:
    message = error_for(tmp_path, "download:\n  bitrate: 128\n")
    assert message == "config.yaml: download.bitrate: 128 is not a bitrate like 128k, 192k or 320k"


@pytest.mark.parametrize(
    "template",
    ["../{title}.{output-ext}", "{artist}/../../{title}.{output-ext}", "./{title}.{output-ext}"],
)
def test_output_template_with_dot_folders_is_rejected(tmp_path: Path, template: str) -> None:
    message = error_for(tmp_path, f'download:\n  output: "{template}"\n')
    assert message.startswith(f"config.yaml: download.output: {template!r} ")
    assert "'.' or '..'" in message


@pytest.mark.parametrize("template", ["{artist}/{title}", "{title}.mp3", "{output-ext}/{title}"])
def test_output_template_must_end_with_the_extension(tmp_path: Path, template: str) -> None:
    # Without it the files have no (or a wrong) extension, and players do not see them.
    message = error_for(tmp_path, f'download:\n  output: "{template}"\n')
    assert message == (f"config.yaml: download.output: {template!r} must end with .{{output-ext}}")


def test_cli_bad_log_level_from_environment_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("")
    proc = subprocess.run(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(tmp_path / "out")],
        env=clean_env(MUSICDL_LOG_LEVEL="bogus", **ENV),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "musicdl: error: MUSICDL_LOG_LEVEL: invalid level 'bogus' "
        "(choose from DEBUG, INFO, WARNING, ERROR)"
    )


def test_cli_empty_config_says_there_is_nothing_to_do(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("songs: []\nalbums:\n")
    proc = subprocess.run(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(tmp_path / "out")],
        env=clean_env(**ENV),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert f"nothing to do: {config} lists no songs, albums, artists or playlists" in proc.stdout


def test_sections_with_every_entry_commented_out_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "download:\n  # threads: 4\nsongs:\n  # - a: b\nalbums:\nartists:\nplaylists:\noverrides:\n"
    )
    cfg = load_config(path, ENV)
    assert cfg.items == [] and cfg.overrides == {} and cfg.download.threads == 1


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text(f'songs:\n  - "A": "{TRACK}"\n')
    return subprocess.run(
        [sys.executable, str(DOWNLOAD_PY), str(config), *args],
        env=clean_env(
            **ENV,
            SPOTIFY_API_URL="http://127.0.0.1:9/v1/",
            SPOTIFY_TOKEN_URL="http://127.0.0.1:9/api/token",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_output_dir_that_is_a_file_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for target in ("afile", "afile/sub"):
        proc = run_cli(tmp_path, "-o", target)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr
        assert lines[0].endswith(f"ERROR   --output-dir {target}: not a directory")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs a read-only /sys")
def test_cli_unwritable_output_dir_fails_before_any_download(tmp_path: Path) -> None:
    # An existing folder we cannot write to used to cost every track max_retries attempts
    # with backoff (hours for a big library) before failing; root can write almost anywhere,
    # so this uses /sys, which nobody can.
    proc = run_cli(tmp_path, "-o", "/sys/kernel")
    assert proc.returncode == 2, proc.stderr
    assert "ERROR   --output-dir /sys/kernel: cannot write there: " in proc.stderr
    assert "Spotify" not in proc.stderr


def test_duplicate_keys_are_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    # PyYAML keeps the last of two `songs:` sections: every song in the first vanished.
    message = error_for(
        tmp_path,
        f'songs:\n  - a: "{TRACK}"\nalbums: []\nsongs:\n  - b: "{TRACK}"\n',
    )
    assert message == (
        "config.yaml: line 4, column 1: malformed YAML: duplicate key 'songs' (first on line 1)"
    )
    nested = error_for(tmp_path, "download:\n  threads: 2\n  threads: 3\n")
    assert nested == (
        "config.yaml: line 3, column 3: malformed YAML: duplicate key 'threads' (first on line 2)"
    )
    inline = error_for(tmp_path, "download: {threads: 2, threads: 3}\n")
    assert "duplicate key 'threads' (first on line 1)" in inline


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("x-base: &base\n  threads: 2\ndownload:\n  <<: *base\n  threads: 3\n")
    message = error_for(tmp_path, path.read_text())
    assert message.startswith("config.yaml: x-base: unknown key")  # not a duplicate-key error


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b'download:\n  format: "mp3"\n  output: "\xe9t\xe9/{title}.{output-ext}"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, ENV)
    assert str(exc.value) == (
        f"{path}: line 3: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    )


def test_override_target_must_be_a_web_url(tmp_path: Path) -> None:
    # It used to pass validation and then fail every download attempt, with backoff.
    message = error_for(tmp_path, f'overrides:\n  "{TRACK}": "dQw4w9WgXcQ"\n')
    assert message == (
        f"config.yaml: overrides: {TRACK!r} -> 'dQw4w9WgXcQ' is not an http(s) URL "
        "(e.g. https://www.youtube.com/watch?v=...)"
    )


@pytest.mark.parametrize("bitrate", ["9999k", "16k", "1000k"])
def test_bitrate_out_of_any_encoders_range_is_rejected(tmp_path: Path, bitrate: str) -> None:
    # 9999k passed validation and then every opus/ogg conversion failed, after retries.
    message = error_for(tmp_path, f'download:\n  bitrate: "{bitrate}"\n')
    assert message == f"config.yaml: download.bitrate: {bitrate!r} is not between 32k and 512k"


def test_cli_refuses_a_second_run_on_the_same_library(tmp_path: Path) -> None:
    # A second run (an overlapping cron job) deleted the first run's in-flight temp
    # folders as "stale" at start-up, failing its downloads.
    out = tmp_path / "out"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)  # what a running download.py holds
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (out / "Band").mkdir()
        (out / "Band" / ".musicdl-tmp-inflight").mkdir()
        proc = run_cli(tmp_path, "-o", str(out))
    finally:
        os.close(held)
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith(
            f"ERROR   --output-dir {out}: another musicdl run is using it; try again when it ends"
        )
    )
    assert (out / "Band" / ".musicdl-tmp-inflight").is_dir()


def test_swapped_name_and_url_get_a_hint(tmp_path: Path) -> None:
    message = error_for(tmp_path, f'songs:\n  - "{TRACK}": "My Song"\n')
    assert message == (
        "config.yaml: songs[0]: 'My Song' is not a Spotify track/album/artist/playlist URL "
        '(name and URL swapped? write - "name": "url")'
    )


def _sigint_as_default() -> None:
    # A CI runner started in the background (`cmd &` in a script) hands its children an
    # ignored SIGINT, and Python keeps it ignored: the Ctrl-C below would never arrive.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _open_when_read(fifo: Path, timeout: float = 60) -> int:
    """The FIFO's write end, opened once a reader has the FIFO open: proof that download.py
    got past its imports and is reading the config (a loaded CI machine takes seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:  # ENXIO: no reader
                raise
            time.sleep(0.05)


def _wait_until_blocked_reading(pid: int, timeout: float = 10) -> None:
    """Until the process sleeps in read(): a signal that lands between its open() and its
    read() is only noticed at Python's next check, which a blocking read never reaches."""
    wchan = Path(f"/proc/{pid}/wchan")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and "pipe_read" not in wchan.read_text():
        time.sleep(0.02)


def _start_download(config: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DOWNLOAD_PY), str(config), "-o", str(out)],
        env=clean_env(**ENV),
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_default,
    )


def test_cli_ctrl_c_while_reading_the_config_is_one_line(tmp_path: Path) -> None:
    # Ctrl-C before the download started (here: the config is a FIFO nobody writes to, so
    # reading it blocks) printed a KeyboardInterrupt traceback.
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    proc = _start_download(fifo, tmp_path / "out")
    writer = None
    try:
        writer = _open_when_read(fifo)  # download.py now blocks reading: no data, no EOF
        _wait_until_blocked_reading(proc.pid)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if writer is not None:
            os.close(writer)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("interrupted")


def test_cli_ctrl_c_while_python_loads_the_libraries_is_one_line(tmp_path: Path) -> None:
    # Ctrl-C in the first half second, while yt-dlp, pydantic and friends were still being
    # imported, printed a KeyboardInterrupt traceback.
    config = tmp_path / "config.yaml"
    config.write_text("songs: []\n", encoding="utf-8")
    proc = _start_download(config, tmp_path / "out")
    try:
        time.sleep(0.1)  # well inside the imports (about 0.4 s on an idle machine)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # -SIGINT: the signal came before Python itself was up, which is quiet too
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1] == "musicdl: interrupted"


def test_cli_spotify_out_of_reach_is_one_line_exit_2(tmp_path: Path) -> None:
    # No network (or a wrong proxy): every item failed on its own, each after its own
    # timeout on a network that drops packets, and the run ended as "some items failed".
    config = tmp_path / "config.yaml"
    config.write_text(
        f'songs:\n  - "A": "{TRACK}"\nalbums:\n'
        '  - "B": "https://open.spotify.com/album/1DFixLWuPkv3KT3TnV35m3"\n'
    )
    proc = run_cli(tmp_path, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].endswith(
        "ERROR   Spotify track 4PTG3Z6ehGkBFwjybzWkR8: cannot reach 127.0.0.1:9: Failed to "
        "establish a new connection: [Errno 111] Connection refused; nothing was downloaded: "
        "check the network, DNS or HTTPS_PROXY"
    )
    assert proc.stdout == ""


def test_library_on_a_filesystem_without_locks_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SMB/NFS mounts (a NAS share) may answer flock() with ENOLCK/EOPNOTSUPP: that must
    # not stop the run (or end it with a traceback); only "another run holds it" does.
    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", no_locks)
    assert locks.lock_folder(tmp_path) is not None


def test_library_folder_we_cannot_open_for_reading_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write+search-only folder (mode 0333) passes the write probe but open(O_RDONLY)
    # fails: run unlocked rather than end with a PermissionError traceback.
    def refuse(*_args: object, **_kwargs: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(locks.os, "open", refuse)
    assert locks.lock_folder(tmp_path) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://open.spotify.com/user/spotify/playlist/37i9dQZF1DXcBWIGoYBM5M",
        "spotify:user:spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
    ],
)
def test_old_user_playlist_urls_are_understood(url: str) -> None:
    # The pre-2018 form is still in many people's notes and still opens in Spotify.
    assert parse_spotify_url(url) == ("playlist", "37i9dQZF1DXcBWIGoYBM5M")


def test_credentials_lose_stray_whitespace(tmp_path: Path) -> None:
    # A .env file saved with CRLF line ends gives SPOTIFY_CLIENT_SECRET="secret\r": Spotify
    # rejects it and nothing says why. Blank values count as missing.
    path = tmp_path / "config.yaml"
    path.write_text("download:\n  client_id: ' from-file '\n")
    cfg = load_config(path, {"SPOTIFY_CLIENT_SECRET": "secret\r", "SPOTIFY_CLIENT_ID": "  "})
    assert (cfg.download.client_id, cfg.download.client_secret) == ("from-file", "secret")
    message = error_for(tmp_path, "", {"SPOTIFY_CLIENT_ID": "id", "SPOTIFY_CLIENT_SECRET": " \r"})
    assert message.startswith("config.yaml: download.client_secret: missing Spotify credentials")


def test_no_fcntl_module_means_no_lock_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows has no fcntl: `import fcntl` at the top made download.py fail to start there.
    monkeypatch.setattr(locks, "fcntl", None)
    assert locks.lock_folder(tmp_path) == locks.UNLOCKED


def test_deeply_nested_yaml_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # 5000 nested lists made PyYAML's composer overflow the stack: RecursionError, exit 1.
    message = error_for(tmp_path, "songs: " + "[" * 5000 + "]" * 5000 + "\n")
    assert message == "config.yaml: malformed YAML: nested too deeply"


def test_a_value_quoted_in_an_error_is_cut_short(tmp_path: Path) -> None:
    # Five levels of YAML aliases (343 bytes) were echoed whole: an "error line" of 3.8 MB;
    # eight levels would have been gigabytes.
    levels = [f'  - - &a "{TRACK}"', "    - &l1 [" + ", ".join(["*a"] * 9) + "]"]
    for n in range(2, 6):
        levels.append(f"    - &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    message = error_for(tmp_path, "songs:\n" + "\n".join(levels) + "\n")
    assert message.startswith("config.yaml: songs[0]: expected one {name: url} pair, got [")
    assert len(message) < 500
    long_url = "https://example.com/" + "x" * 10_000
    message = error_for(tmp_path, f'songs:\n  - "A": "{long_url}"\n')
    assert "is not a Spotify" in message and len(message) < 500


def test_an_empty_output_dir_is_refused_not_taken_for_the_current_folder(
    tmp_path: Path,
) -> None:
    # `--output-dir "$MUSIC"` with MUSIC unset quietly wrote into the current folder.
    proc = run_cli(tmp_path, "--output-dir", "")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("argument -o/--output-dir: empty path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_key_with_a_line_break_stays_one_line(tmp_path: Path) -> None:
    msg = error_for(tmp_path, '"so\\nngs": []\n')
    assert (
        msg
        == "config.yaml: 'so\\nngs': unknown key (known keys: "
        + ", ".join(["version", "download", "songs", "albums", "artists", "playlists", "overrides"])
        + ")"
    )
    assert "\n" not in msg


@pytest.mark.parametrize(("word", "value"), [("no", "false"), ("Yes", "true"), ("off", "false")])
def test_a_key_yaml_reads_as_a_boolean_is_named_as_written(
    tmp_path: Path, word: str, value: str
) -> None:
    # `no:` is false in YAML 1.1: the error said "download[0]: False: keys should be strings"
    msg = error_for(tmp_path, f"download:\n  {word}: 1\n")
    assert msg == (
        f"config.yaml: line 2, column 3: malformed YAML: the key {word} reads as {value} in "
        f"YAML; quote it: '{word}':"
    )


def test_a_template_brace_without_its_partner_is_an_error(tmp_path: Path) -> None:
    # accepted, and every file was named "{title.mp3" literally
    msg = error_for(tmp_path, "download:\n  output: '{title.{output-ext}'\n")
    assert msg == (
        "config.yaml: download.output: '{title.{output-ext}' has a { or } without its partner"
    )
