#!/usr/bin/env python3
"""musicdl: download a Spotify library (songs, albums, artists, playlists) as tagged files.

Usage: python3 download.py [config.yaml] [--output-dir DIR] [--log-level LEVEL]
Exit codes: 0 everything succeeded (or nothing to do), 1 some items failed, 2 invalid
configuration or setup (config file, credentials Spotify rejects, Spotify not reachable at
all, an unusable --output-dir, another run on the same library), 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

try:
    from core.config import ConfigError, load_config
    from core.downloader import Downloader, format_summary
    from core.locks import lock_folder
    from core.spotify import SpotifyAuthError, SpotifyUnreachable
except KeyboardInterrupt:  # Ctrl-C while the libraries load (yt-dlp alone takes a while)
    print("musicdl: interrupted", file=sys.stderr)
    sys.exit(130)

log = logging.getLogger("musicdl")


LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def _folder(text: str) -> Path:
    # Path("") is ".": an unset shell variable would quietly mean the current folder
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    return Path(text)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="musicdl", description=__doc__.splitlines()[0])
    p.add_argument(
        "config",
        nargs="?",
        default=os.environ.get("CONFIG_PATH") or "config.yaml",
        help="path to config.yaml (default: $CONFIG_PATH, else ./config.yaml)",
    )
    p.add_argument(
        "-o",
        "--output-dir",
        type=_folder,
        default=Path.cwd(),
        help="library root (default: cwd)",
    )
    p.add_argument(
        "--log-level",
        default=os.environ.get("MUSICDL_LOG_LEVEL", "INFO"),
        type=str.upper,
        choices=LOG_LEVELS,
        help="logging level (default: $MUSICDL_LOG_LEVEL, else INFO)",
    )
    args = p.parse_args(argv)
    if args.log_level not in LOG_LEVELS:  # argparse checks choices on the command line only
        p.error(
            f"MUSICDL_LOG_LEVEL: invalid level {os.environ.get('MUSICDL_LOG_LEVEL')!r} "
            f"(choose from {', '.join(LOG_LEVELS)})"
        )
    return args


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, kill): handled like Ctrl-C, exit code 143."""


def _on_signal(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()  # first, so no worker starts a retry or the next track meanwhile
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _kill_children() -> None:
    """SIGTERM our direct children (yt-dlp's aria2c/ffmpeg), so they stop writing into temp
    folders after we are gone. Best effort, Linux /proc only."""
    me = str(os.getpid())
    try:
        procs = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return
    for proc in procs:
        try:
            stat = (proc / "stat").read_text(encoding="utf-8", errors="replace")
            if stat.rsplit(")", 1)[1].split()[1] == me:  # field 4, after "(comm)" and state
                os.kill(int(proc.name), signal.SIGTERM)
        except (OSError, IndexError, ValueError):
            continue


def output_dir_problem(path: Path) -> str | None:
    """Why `path` cannot be the library root, or None. Checked before any download, so an
    unwritable folder fails at once instead of after every track's retries."""
    if (path.exists() and not path.is_dir()) or any(p.is_file() for p in path.parents):
        return "not a directory"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".musicdl-probe-", dir=path)
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        return "cannot write there" + (f": {exc.strerror}" if exc.strerror else "")
    return None


def _print(text: str, what: str) -> None:
    """print() to stdout; a closed pipe (`| head`) or a full disk is one error line."""
    try:
        print(text, flush=True)
    except OSError as exc:
        log.error("cannot print %s: %s", what, exc.strerror or exc)
        # keep the interpreter's exit-time flush of stdout from failing again, loudly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a non-UTF-8 console must not crash the summary
            stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S"
    )
    if args.log_level != "DEBUG":
        # spotipy logs every HTTP error (including the 429s we handle) at ERROR level.
        logging.getLogger("spotipy").setLevel(logging.CRITICAL)
    try:
        config = load_config(Path(args.config))
    except ConfigError as exc:
        log.error("%s", exc)  # one line, no traceback
        return 2
    if not config.items:
        _print(
            f"nothing to do: {args.config} lists no songs, albums, artists or playlists",
            "the summary",
        )
        return 0
    problem = output_dir_problem(args.output_dir)
    if problem:
        log.error("--output-dir %s: %s", args.output_dir, problem)
        return 2
    # held until the process ends: another run's start-up would take our in-flight temp
    # folders for leftovers
    if lock_folder(args.output_dir) is None:
        log.error(
            "--output-dir %s: another musicdl run is using it; try again when it ends",
            args.output_dir,
        )
        return 2
    stop = threading.Event()
    _on_signal(stop)
    downloader = Downloader(config, args.output_dir, stop=stop)
    try:
        report = downloader.run()
    except SpotifyAuthError as exc:
        log.error("%s", exc)  # a configuration problem: one line, exit 2
        return 2
    except SpotifyUnreachable as exc:
        log.error("%s; nothing was downloaded: check the network, DNS or HTTPS_PROXY", exc)
        return 2
    except OSError as exc:
        log.error("cannot write to %s: %s", args.output_dir, exc)
        return 1
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _kill_children()
        downloader.abandon()
        log.error("interrupted; finished files are kept, the next run continues from there")
        return 143 if isinstance(exc, Terminated) else 130
    _print(format_summary(report), "the summary")
    return 1 if report.failed else 0


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C before the download started: nothing to clean up
        print("musicdl: interrupted", file=sys.stderr)
        sys.exit(130)
    if threading.active_count() > 1:
        # Interrupted with downloads still in flight: their threads may block for minutes on
        # a stalled connection, and the interpreter would wait for them at exit. Every file
        # under a final name is complete (atomic renames), so leave now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
