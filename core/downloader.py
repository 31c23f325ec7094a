"""Orchestration: config items -> Spotify tracks -> match -> download -> tag -> rename into
place, in parallel, with retries, the overwrite policy, playlists and a summary."""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mutagen import MutagenError

from core import matching, provider
from core.cache import TTLLRUCache
from core.config import Config, Item
from core.locks import folder_in_use, lock_folder, unlock
from core.metadata import (
    CoverFetcher,
    embedded_cover,
    stored_spotify_url,
    tags_for,
    write_tags,
)
from core.paths import PathAllocator, resolve_under, sanitize_component
from core.playlist import PlaylistEntry, playlist_source, write_m3u8
from core.spotify import (
    Collection,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyError,
    SpotifyUnreachable,
)
from core.track import Track

log = logging.getLogger(__name__)

TMP_PREFIX = ".musicdl-tmp-"
OK, SKIPPED, TAGGED, FAILED = "ok", "skipped", "tagged", "failed"


class Interrupted(Exception):
    """The run was interrupted (Ctrl-C / SIGTERM) before this track finished."""


class NoMatchError(Exception):
    """No candidate scored above the threshold (permanent: not retried)."""


@dataclass
class Result:
    track: Track
    status: str
    path: Path | None = None
    reason: str = ""


@dataclass
class RunReport:
    results: list[Result] = field(default_factory=list)
    item_failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    playlists: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.item_failures) or any(r.status == FAILED for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, SKIPPED: 0, TAGGED: 0, FAILED: 0}
        for r in self.results:
            out[r.status] += 1
        return out


def clean_stale_temp(root: Path) -> int:
    """Remove temp dirs an interrupted run left behind. Returns how many. A temp dir that
    a live run holds locked is left alone: that run may work on a folder above or below
    this one, which the library lock does not cover."""
    if not root.is_dir():
        return 0
    removed = 0
    for tmp in root.rglob(TMP_PREFIX + "*"):
        if tmp.is_dir() and not folder_in_use(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    for part in root.glob(".musicdl-*.m3u8.part"):  # a playlist write that was cut off
        part.unlink(missing_ok=True)
    if removed:
        log.info("removed %d unfinished temp folder(s) from an earlier run", removed)
    return removed


class Downloader:
    def __init__(
        self,
        config: Config,
        output_dir: Path,
        spotify: SpotifyClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        # Set on Ctrl-C / SIGTERM: no new track or retry starts after that.
        self.stop = stop or threading.Event()
        self._workdirs: dict[Path, int | None] = {}  # temp folder -> the lock held on it
        self.dl = config.download
        self.output_dir = output_dir
        self.cache: TTLLRUCache[Any] = TTLLRUCache(self.dl.cache_max_size, self.dl.cache_ttl)
        self.spotify = spotify or SpotifyClient(
            self.dl.client_id or "",
            self.dl.client_secret or "",
            self.cache,
            max_wait=self.dl.rate_limit_max_wait,
        )
        self.covers = CoverFetcher(TTLLRUCache(self.dl.cache_max_size, self.dl.cache_ttl))
        self.paths = PathAllocator(
            self.dl.output,
            self.dl.format,
            owner=lambda rel: stored_spotify_url(resolve_under(output_dir, rel)),
        )
        self.sleep = sleep
        self._progress_lock = threading.Lock()
        self._done = 0

    # -- per track -------------------------------------------------------------------------

    def _find(self, track: Track) -> str:
        override = self.config.override_for(track.id)
        if override:
            log.debug("override for %s: %s", track.display, override)
            return override
        for name in self.dl.audio_providers:
            candidates = provider.search(name, track, self.dl.search_limit)
            best = matching.best_match(track, candidates, self.dl.min_score)
            if best:
                return best[0].url
            log.debug(
                "%s: no good match on %s (%d candidates)", track.display, name, len(candidates)
            )
        raise NoMatchError(
            f"no match on {', '.join(self.dl.audio_providers)} scored >= {self.dl.min_score}"
        )

    def _download(self, track: Track, final: Path) -> None:
        url = self._find(track)
        if self.stop.is_set():
            raise Interrupted
        final.parent.mkdir(parents=True, exist_ok=True)  # after the search: no empty folders
        workdir = self._workdir(final)
        try:
            audio = provider.download_audio(url, workdir, self.dl.format, self.dl.bitrate)
            write_tags(audio, self.dl.format, tags_for(track), self.covers.get(track.cover_url))
            audio.replace(final)  # same filesystem: atomic, never a partial file under `final`
        finally:
            self._drop_workdir(workdir)

    def _workdir(self, final: Path) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=final.parent))
        lock = lock_folder(workdir)
        with self._progress_lock:
            self._workdirs[workdir] = lock
        return workdir

    def _drop_workdir(self, workdir: Path) -> None:
        shutil.rmtree(workdir, ignore_errors=True)
        with self._progress_lock:
            unlock(self._workdirs.pop(workdir, None))

    def _retag(self, track: Track, final: Path) -> None:
        """Rewrite the tags of an existing file on a copy, then rename it over the original:
        a failure or a kill halfway never leaves a damaged file under the final name."""
        workdir = self._workdir(final)
        try:
            copy = workdir / final.name
            shutil.copy2(final, copy)
            # a cover that cannot be fetched now must not wipe the one the file has
            cover = self.covers.get(track.cover_url) or embedded_cover(copy)
            write_tags(copy, self.dl.format, tags_for(track), cover)
            copy.replace(final)
        finally:
            self._drop_workdir(workdir)

    def _process(self, track: Track, final: Path) -> Result:
        if final.is_dir():
            return Result(track, FAILED, None, f"a folder is in the way: {final}")
        if final.exists():
            if self.dl.overwrite == "skip":
                return Result(track, SKIPPED, final, "already downloaded")
            if self.dl.overwrite == "metadata":
                try:
                    self._retag(track, final)
                except MutagenError as exc:
                    return Result(
                        track,
                        FAILED,
                        None,
                        f"the existing file is not a readable {self.dl.format} file ({exc}); "
                        "delete it or set overwrite: overwrite to download it again",
                    )
                return Result(track, TAGGED, final, "tags rewritten")
        attempts = self.dl.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                self._download(track, final)
                return Result(track, OK, final)
            except NoMatchError as exc:
                return Result(track, FAILED, None, str(exc))
            except (provider.ProviderError, OSError) as exc:
                if self.stop.is_set():
                    raise Interrupted from None
                if attempt == attempts:
                    return Result(track, FAILED, None, f"{exc} (after {attempts} attempts)")
                delay = self.dl.retry_backoff * 2 ** (attempt - 1)
                log.warning(
                    "%s: attempt %d/%d failed (%s); retrying in %gs",
                    track.display,
                    attempt,
                    attempts,
                    str(exc).splitlines()[0],
                    delay,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _safe_process(self, track: Track, final: Path, total: int) -> Result:
        if self.stop.is_set():
            return Result(track, FAILED, None, "interrupted")
        try:
            result = self._process(track, final)
        except Interrupted:
            return Result(track, FAILED, None, "interrupted")
        except Exception as exc:  # one bad track must not stop the others
            log.debug("unexpected error for %s", track.display, exc_info=True)
            result = Result(track, FAILED, None, f"{type(exc).__name__}: {exc}")
        with self._progress_lock:
            self._done += 1
            line = f"[{self._done}/{total}] {result.status}: {track.display}"
            if result.status == FAILED:
                log.warning("%s (%s)", line, result.reason)
            else:
                log.info("%s", line)
        return result

    def abandon(self) -> None:
        """After an interrupt: remove the temp folders of downloads still in flight (call it
        once their ffmpeg/aria2c children are gone). Nothing under a final name is touched."""
        self.stop.set()
        with self._progress_lock:
            workdirs = list(self._workdirs)
        for workdir in workdirs:
            shutil.rmtree(workdir, ignore_errors=True)
            self._prune_empty_folders(workdir.parent)

    def _prune_empty_folders(self, folder: Path) -> None:
        """Remove `folder` and its parents up to the library root while they are empty: the
        artist/album folders a failed download created. Never a folder that holds a file."""
        root = self.output_dir.resolve()
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty, already gone, or not ours to remove
                return
            folder = folder.parent

    # -- whole run -------------------------------------------------------------------------

    def _expand(self, item: Item) -> Collection:
        if item.kind == "track":
            t = self.spotify.track(item.id)
            return Collection("track", item.name, item.url, [t])
        if item.kind == "album":
            return self.spotify.album(item.id)
        if item.kind == "artist":
            return self.spotify.artist(item.id)
        return self.spotify.playlist(item.id)

    def _playlist_path(self, name: str, source: str, taken: set[str]) -> Path:
        """`<name>.m3u8` in the library root, or `<name> (2).m3u8`, … when this run already
        wrote that name or the file there was made from another playlist: a name stays with
        its playlist across runs (two "Chill" playlists, one of them failing today).
        Resolved like the track paths, so the relative paths hold when the library root is
        reached through a symlink."""
        for n in itertools.count(1):
            file_name = sanitize_component(name, suffix="" if n == 1 else f" ({n})", ext=".m3u8")
            path = resolve_under(self.output_dir, PurePosixPath(file_name))
            if file_name.casefold() not in taken and playlist_source(path) in (None, source):
                taken.add(file_name.casefold())
                return path
        raise AssertionError("unreachable")

    def run(self) -> RunReport:
        report = RunReport()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        clean_stale_temp(self.output_dir)
        collections: list[tuple[Item, Collection]] = []
        for item in self.config.items:
            try:
                coll = self._expand(item)
            except SpotifyAuthError:
                raise  # wrong credentials: every item would fail the same way
            except Exception as exc:  # one bad item must not stop the others
                if isinstance(exc, SpotifyUnreachable) and not (
                    collections or report.item_failures
                ):
                    raise  # no answer yet: every item would wait for its own timeout
                reason = (
                    str(exc) if isinstance(exc, SpotifyError) else f"{type(exc).__name__}: {exc}"
                )
                if not isinstance(exc, SpotifyError):
                    log.debug("unexpected error for %s %r", item.kind, item.name, exc_info=True)
                log.error("%s %r: %s", item.kind, item.name, reason)
                report.item_failures.append((f"{item.kind} {item.name}", reason))
                continue
            for w in coll.warnings:
                log.warning("%s", w)
            report.warnings += coll.warnings
            log.info("%s %r: %d track(s)", item.kind, coll.name, len(coll.tracks))
            collections.append((item, coll))

        order: list[str] = []
        jobs: dict[str, tuple[Track, Path]] = {}
        results: dict[str, Result] = {}
        for _item, coll in collections:
            for track in coll.tracks:
                if track.id in results or track.id in jobs:
                    continue
                order.append(track.id)
                try:
                    final = resolve_under(self.output_dir, self.paths.allocate(track))
                except Exception as exc:  # one odd name must not stop the others
                    log.debug("no output path for %s", track.display, exc_info=True)
                    reason = f"no output path: {type(exc).__name__}: {exc}"
                    log.warning("%s: %s", track.display, reason)
                    results[track.id] = Result(track, FAILED, None, reason)
                    continue
                jobs[track.id] = (track, final)

        total = len(jobs)
        pool = ThreadPoolExecutor(max_workers=self.dl.threads)
        try:
            futures = {
                pool.submit(self._safe_process, track, final, total): tid
                for tid, (track, final) in jobs.items()
            }
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
        except BaseException:
            # Ctrl-C / SIGTERM: start nothing new and do not wait for the tracks in flight
            # (a stalled download could take minutes); their temp folders are removed by
            # abandon() or, at the latest, by the next run.
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        report.results = [results[tid] for tid in order]
        for tid, (_track, final) in jobs.items():
            if results[tid].status == FAILED:
                self._prune_empty_folders(final.parent)

        taken: set[str] = set()
        for item, coll in collections:
            if item.kind != "playlist":
                continue
            source = f"https://open.spotify.com/playlist/{item.id}"
            path = self._playlist_path(coll.name, source, taken)
            entries: list[PlaylistEntry] = []
            for track in coll.tracks:
                r = results[track.id]
                audio = r.path if r.status != FAILED else None
                final = jobs[track.id][1] if track.id in jobs else None
                if audio is None and final is not None and _is_file(final):
                    audio = final  # this run failed; an earlier run's file is there
                    log.info(
                        "playlist %r: keeping the earlier download of %s (%s)",
                        coll.name,
                        track.display,
                        r.reason,
                    )
                if audio is None:
                    log.warning(
                        "playlist %r: leaving out %s (%s)", coll.name, track.display, r.reason
                    )
                    continue
                entries.append(
                    PlaylistEntry(
                        audio, round(track.duration_s), ", ".join(track.artists), track.title
                    )
                )
            try:
                write_m3u8(path, entries, source)
            except OSError as exc:  # e.g. disk full: keep the summary and the other playlists
                reason = f"cannot write {path}: {exc.strerror or exc}"
                log.error("playlist %r: %s", item.name, reason)
                report.item_failures.append((f"playlist {item.name}", reason))
                continue
            report.playlists.append(path)
            log.info("playlist written: %s (%d of %d tracks)", path, len(entries), len(coll.tracks))
        report.warnings += self.covers.failures
        return report


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder on the way we may not enter
        return False


def format_summary(report: RunReport) -> str:
    """The end-of-run table: counts per status, then every failure with its reason."""
    counts = report.counts()
    rows = [(status, str(n)) for status, n in counts.items()]
    rows.append(("items failed", str(len(report.item_failures))))
    rows.append(("warnings", str(len(report.warnings))))
    width = max(len(r[0]) for r in rows)
    lines = ["", "Summary", "-" * (width + 8)]
    lines += [f"{k.ljust(width)}  {v.rjust(5)}" for k, v in rows]
    failures = [(f"{r.track.display}", r.reason) for r in report.results if r.status == FAILED]
    failures += report.item_failures
    if failures:
        lines += ["", "Failed:"]
        lines += [f"  {what}: {why}" for what, why in failures]
    return "\n".join(lines)
