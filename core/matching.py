"""Score provider candidates against a Spotify track (kept apart from searching)."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from core.track import Track

log = logging.getLogger(__name__)

UNWANTED_WORDS: tuple[str, ...] = (
    "live",
    "remix",
    "cover",
    "instrumental",
    "sped up",
    "slowed",
    "reverb",
    "karaoke",
    "nightcore",
    "acoustic",
    "8d",
    "reaction",
    "tutorial",
)
WEIGHTS = {"title": 0.45, "artist": 0.30, "duration": 0.25}
UNWANTED_PENALTY = 0.35
DURATION_TOLERANCE_S = 2.0
DURATION_ZERO_S = 30.0


@dataclass(frozen=True)
class Candidate:
    """One search result from a provider."""

    provider: str
    url: str
    title: str
    uploader: str = ""
    duration: float | None = None
    isrc: str | None = None


@dataclass(frozen=True)
class Score:
    title: float
    artist: float
    duration: float
    unwanted: tuple[str, ...]
    isrc_match: bool
    total: float

    def describe(self) -> str:
        return (
            f"total={self.total:.3f} title={self.title:.2f} artist={self.artist:.2f} "
            f"duration={self.duration:.2f} unwanted={list(self.unwanted)} isrc={self.isrc_match}"
        )


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\(\)\[\]{}\-_|/\\:;,.!?\"'`~]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def duration_score(expected_s: float, got_s: float | None) -> float:
    """1.0 within the tolerance, falling linearly to 0 at 30 s off; 0.5 when unknown."""
    if got_s is None or expected_s <= 0:
        return 0.5
    diff = abs(expected_s - got_s)
    if diff <= DURATION_TOLERANCE_S:
        return 1.0
    return max(0.0, 1 - (diff - DURATION_TOLERANCE_S) / (DURATION_ZERO_S - DURATION_TOLERANCE_S))


def score(track: Track, cand: Candidate) -> Score:
    """Title + artist similarity, duration difference, unwanted words; ISRC hit wins."""
    ctitle = normalize(cand.title)
    ttitle = normalize(track.title)
    artists = [normalize(a) for a in track.artists if a]
    # Video titles are often "Artist - Title": strip the artist names before comparing titles.
    stripped = ctitle
    for a in artists:
        stripped = stripped.replace(a, " ")
    stripped = re.sub(r"\s+", " ", stripped).strip()
    title = max(fuzz.ratio(ttitle, stripped), fuzz.token_sort_ratio(ttitle, stripped)) / 100
    if ttitle and ttitle in ctitle:
        title = max(title, 0.9)
    uploader = normalize(cand.uploader)
    artist = 0.0
    for a in artists:
        in_title = 1.0 if a and _has_word(ctitle, a) else 0.0
        by_uploader = fuzz.token_set_ratio(a, uploader) / 100 if uploader else 0.0
        artist = max(artist, in_title, by_uploader)
    dur = duration_score(track.duration_s, cand.duration)
    reference = normalize(f"{track.title} {track.album}")
    unwanted = tuple(
        w for w in UNWANTED_WORDS if _has_word(ctitle, w) and not _has_word(reference, w)
    )
    isrc_match = bool(track.isrc and cand.isrc and track.isrc.upper() == cand.isrc.upper())
    total = (
        WEIGHTS["title"] * title
        + WEIGHTS["artist"] * artist
        + WEIGHTS["duration"] * dur
        - UNWANTED_PENALTY * len(unwanted)
    )
    if isrc_match:
        total = 2.0
    return Score(title, artist, dur, unwanted, isrc_match, round(total, 4))


def best_match(
    track: Track, candidates: list[Candidate], threshold: float
) -> tuple[Candidate, Score] | None:
    """The highest-scoring candidate at or above `threshold` (first one wins ties)."""
    best: tuple[Candidate, Score] | None = None
    for cand in candidates:
        s = score(track, cand)
        log.debug("candidate %r (%s): %s", cand.title, cand.url, s.describe())
        if s.total >= threshold and (best is None or s.total > best[1].total):
            best = (cand, s)
    if best:
        log.debug(
            "chosen for %s: %r from %s: %s",
            track.display,
            best[0].title,
            best[0].provider,
            best[1].describe(),
        )
    return best
