"""The track model shared by every stage (Spotify -> matching -> download -> tags -> paths)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Track:
    """One Spotify track with everything the tags and the output path need."""

    id: str
    title: str
    artists: tuple[str, ...]
    album: str
    album_artists: tuple[str, ...]
    duration_ms: int
    url: str
    release_date: str = ""
    track_number: int = 1
    track_total: int | None = None
    disc_number: int = 1
    disc_total: int | None = None
    isrc: str | None = None
    genres: tuple[str, ...] = field(default_factory=tuple)
    cover_url: str | None = None

    @property
    def artist(self) -> str:
        """The main (first) artist."""
        return self.artists[0] if self.artists else ""

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000

    @property
    def year(self) -> str:
        return self.release_date[:4]

    @property
    def display(self) -> str:
        """`Artist - Title`, as shown in progress lines and playlists: one line, always."""
        return " ".join(f"{', '.join(self.artists)} - {self.title}".splitlines())
