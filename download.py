#!/usr/bin/env python3
"""musicdl: download a Spotify library (songs, albums, artists, playlists) as tagged files.

Usage: python3 download.py [config.yaml] [--output-dir DIR] [--log-level LEVEL]
Exit codes: 0 everything succeeded, 1 some items failed, 2 invalid configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from core.config import ConfigError, load_config
from core.downloader import Downloader, format_summary

log = logging.getLogger("musicdl")


LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="musicdl", description=__doc__.splitlines()[0])
    p.add_argument(
        "config",
        nargs="?",
        default=os.environ.get("CONFIG_PATH") or "config.yaml",
        help="path to config.yaml (default: $CONFIG_PATH, else ./config.yaml)",
    )
    p.add_argument(
        "-o", "--output-dir", type=Path, default=Path.cwd(), help="library root (default: cwd)"
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
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
        print(
            f"nothing to do: {args.config} lists no songs, albums, artists or playlists",
            flush=True,
        )
        return 0
    try:
        report = Downloader(config, args.output_dir).run()
    except OSError as exc:
        log.error("cannot write to %s: %s", args.output_dir, exc)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted; finished files are kept, the next run continues from there")
        return 130
    print(format_summary(report))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
