"""Scoring picks the real upload over live versions, covers and wrong-length videos."""

from __future__ import annotations

import logging

import pytest

from core.matching import Candidate, best_match, duration_score, score
from core.track import Track

TRACK = Track(
    id="t",
    title="Midnight City",
    artists=("M83",),
    album="Hurry Up, We're Dreaming",
    album_artists=("M83",),
    duration_ms=243000,
    url="u",
    isrc="FR6V81141061",
)


def cand(
    title: str, duration: float | None = 243, uploader: str = "", isrc: str | None = None
) -> Candidate:
    return Candidate("youtube", f"https://x/{title}", title, uploader, duration, isrc)


def test_official_upload_wins_over_decoys() -> None:
    candidates = [
        cand("M83 - Midnight City (Live at Coachella)"),
        cand("Midnight City - Karaoke Version", uploader="Sing King"),
        cand("M83 - Midnight City", duration=360),
        cand("Midnight City", uploader="M83 - Topic"),
        cand("Unrelated Song", uploader="Someone"),
    ]
    best = best_match(TRACK, candidates, 0.6)
    assert best is not None
    assert best[0].title == "Midnight City"


def test_artist_in_title_counts_like_uploader() -> None:
    s = score(TRACK, cand("M83 - Midnight City"))
    assert s.artist == 1.0
    assert s.title == 1.0
    assert s.total >= 0.95


@pytest.mark.parametrize("word", ["live", "remix", "cover", "instrumental", "sped up", "nightcore"])
def test_unwanted_words_are_penalised(word: str) -> None:
    plain = score(TRACK, cand("M83 - Midnight City")).total
    tainted = score(TRACK, cand(f"M83 - Midnight City ({word})"))
    assert tainted.unwanted == (word,)
    assert tainted.total < 0.7 < plain


def test_unwanted_word_allowed_when_spotify_title_has_it() -> None:
    remix = Track(**{**TRACK.__dict__, "title": "Midnight City (Eric Prydz Remix)"})
    s = score(remix, cand("M83 - Midnight City (Eric Prydz Remix)"))
    assert s.unwanted == ()
    assert s.total > 0.9


def test_isrc_hit_wins_regardless_of_title() -> None:
    candidates = [cand("M83 - Midnight City"), cand("weird upload name", isrc="fr6v81141061")]
    best = best_match(TRACK, candidates, 0.6)
    assert best is not None and best[1].isrc_match
    assert best[0].title == "weird upload name"


def test_below_threshold_is_rejected() -> None:
    assert best_match(TRACK, [cand("Completely Different", uploader="Nobody")], 0.6) is None


def test_duration_score() -> None:
    assert duration_score(200, 201.5) == 1.0
    assert duration_score(200, 216) == pytest.approx(0.5)
    assert duration_score(200, 400) == 0.0
    assert duration_score(200, None) == 0.5


def test_chosen_candidate_score_parts_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="core.matching"):
        best_match(TRACK, [cand("M83 - Midnight City")], 0.6)
    chosen = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chosen")]
    assert len(chosen) == 1
    for part in ("title=", "artist=", "duration=", "unwanted=", "isrc="):
        assert part in chosen[0]
