#!/usr/bin/env python3
"""Benchmark: download.py end to end against the local fake servers (tests/fixtures) for N
tracks, with threads=1 and threads=4; prints tracks per minute. Not a test.

    python bench/bench_download.py [--tracks 40] [--format mp3] [--threads 1 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import yaml  # noqa: E402

from tests.fixtures.audio import make_clip, make_png  # noqa: E402
from tests.fixtures.fake_spotify import FakeSpotify  # noqa: E402
from tests.fixtures.media_server import MediaServer  # noqa: E402
from tests.fixtures.scenario import clean_env, register_track, run_download  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracks", type=int, default=40)
    p.add_argument("--format", default="mp3")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="musicdl-bench-") as tmp_name:
        tmp = Path(tmp_name)
        media = MediaServer()
        media.clips["a"] = make_clip(tmp / "clips", "m4a", 1.5, 440)
        media.images["cover.png"] = make_png(16, 16)
        media.start()
        fake = FakeSpotify().start()
        try:
            artist = fake.add_artist("Bench Band")
            album = fake.add_album(
                "Bench Album",
                [artist],
                [
                    {"name": f"Bench Song {i:03d}", "duration_ms": 1500, "isrc": f"QZBEN{i:07d}"}
                    for i in range(1, args.tracks + 1)
                ],
                cover_url=f"{media.url}/cover/cover.png",
            )
            for tid in fake.album_tracks[album]:
                register_track(fake, media, tid)
            env = clean_env(**fake.env(), **media.env())
            rows: list[tuple[int, int, float, float]] = []
            for threads in args.threads:
                config = tmp / f"config-{threads}.yaml"
                config.write_text(
                    yaml.safe_dump(
                        {
                            "download": {"format": args.format, "threads": threads},
                            "albums": [{"Bench": f"https://open.spotify.com/album/{album}"}],
                        }
                    )
                )
                start = time.monotonic()
                proc = run_download(config, tmp / f"out-{threads}", env)
                elapsed = time.monotonic() - start
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                rows.append((threads, args.tracks, elapsed, args.tracks / elapsed * 60))
        finally:
            fake.stop()
            media.stop()

    print(f"musicdl benchmark: {args.tracks} tracks, format {args.format}, local fake servers")
    print(f"{'threads':>7}  {'tracks':>6}  {'seconds':>8}  {'tracks/min':>10}")
    for threads, n, elapsed, rate in rows:
        print(f"{threads:>7}  {n:>6}  {elapsed:>8.1f}  {rate:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
