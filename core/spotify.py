"""Spotify Web API through spotipy (client credentials): tracks, albums, artists, playlists.

Pagination follows the `next` URLs the API returns. HTTP 429 is handled here (spotipy's own
retries are off): wait for Retry-After when it is within the cap, otherwise fail the item.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import math
import os
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOauthError

from core.cache import TTLLRUCache
from core.track import Track

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
MAX_RATE_LIMIT_WAITS = 5


class SpotifyError(Exception):
    """A Spotify request failed; the message says which and why."""


class SpotifyAuthError(SpotifyError):
    """The token endpoint rejected the client id/secret: no request can work."""


class SpotifyUnreachable(SpotifyError):
    """No connection to Spotify at all (DNS, refused, timeout, TLS, proxy)."""


class RateLimitError(SpotifyError):
    """Spotify asked us to wait longer than the configured cap."""


@dataclass
class Collection:
    """What one config entry expands to."""

    kind: str
    name: str
    url: str
    tracks: list[Track] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(value: Any) -> Any:
    """The API response with every lone UTF-16 surrogate replaced by U+FFFD. JSON that cuts
    an emoji in half (`"Party \\ud83c"`) decodes to one, and no file name, tag or log line
    can be encoded with it."""
    if isinstance(value, str):
        if not _LONE_SURROGATE.search(value):
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {k: _valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


def _image(images: list[dict[str, Any]] | None) -> str | None:
    if not images:
        return None
    best = max(images, key=lambda i: (i.get("width") or 0) * (i.get("height") or 0))
    return best.get("url")


def _names(objs: list[dict[str, Any]] | None) -> tuple[str, ...]:
    return tuple(o["name"] for o in objs or [] if o and o.get("name"))


def track_from_api(
    t: dict[str, Any],
    album: dict[str, Any] | None = None,
    disc_total: int | None = None,
    genres: tuple[str, ...] = (),
) -> Track:
    """Build a Track from a (full or simplified) track object plus its album object."""
    album = album or t.get("album") or {}
    album_genres = tuple(album.get("genres") or ())
    track_id = t.get("id") or ""
    return Track(
        id=track_id,
        title=t.get("name") or "",
        artists=_names(t.get("artists")),
        album=album.get("name") or "",
        album_artists=_names(album.get("artists")) or _names(t.get("artists")),
        duration_ms=int(t.get("duration_ms") or 0),
        url=(t.get("external_urls") or {}).get("spotify")
        or f"https://open.spotify.com/track/{track_id}",
        release_date=album.get("release_date") or "",
        track_number=int(t.get("track_number") or 1),
        track_total=album.get("total_tracks"),
        disc_number=int(t.get("disc_number") or 1),
        disc_total=disc_total,
        isrc=(t.get("external_ids") or {}).get("isrc"),
        genres=album_genres or genres,
        cover_url=_image(album.get("images")),
    )


def _network_problem(exc: requests.RequestException) -> str:
    """`host: cause` without urllib3's connection reprs, e.g. `accounts.spotify.com: Failed
    to resolve 'accounts.spotify.com' ([Errno -2] Name or service not known)`."""
    url = getattr(exc.request, "url", None) or ""
    host = urllib.parse.urlsplit(url).netloc or "the API"
    cause: object = exc.args[0] if exc.args else exc
    cause = getattr(cause, "reason", None) or cause  # urllib3's MaxRetryError wraps it
    # "<HTTPSConnection object at 0x..>: " or "HTTPSConnection(host='h', port=443): "
    text = re.sub(r"^(<[^>]*>|\w+\(host=[^)]*\)): ", "", str(cause))
    return f"{host}: {text}"


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. Missing,
    negative or unreadable values mean 1 s (time.sleep would raise on -5 or nan)."""
    if value is None:
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 1.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
        return max(seconds, 0.0)
    if math.isnan(seconds) or seconds < 0:
        return 1.0
    return seconds


class SpotifyClient:
    """spotipy with our rate-limit policy, response cache and overridable base URLs."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        cache: TTLLRUCache[Any],
        max_wait: float = 60,
        api_url: str | None = None,
        token_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 20,
    ) -> None:
        api_url = api_url or os.environ.get("SPOTIFY_API_URL") or DEFAULT_API_URL
        token_url = token_url or os.environ.get("SPOTIFY_TOKEN_URL") or DEFAULT_TOKEN_URL
        auth = SpotifyClientCredentials(
            client_id=client_id,
            client_secret=client_secret,
            cache_handler=MemoryCacheHandler(),
            requests_timeout=timeout,
        )
        auth.OAUTH_TOKEN_URL = token_url
        # A plain session: no urllib3 Retry adapter, so a 429 reaches us with its headers.
        self.sp = spotipy.Spotify(
            auth_manager=auth,
            requests_session=requests.Session(),
            requests_timeout=timeout,
            retries=0,
            status_retries=0,
        )
        self.sp.prefix = api_url if api_url.endswith("/") else api_url + "/"
        self.cache = cache
        self.max_wait = max_wait
        self.sleep = sleep

    # -- low level -------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        waits = 0
        while True:
            try:
                return _valid_text(fn())
            except spotipy.SpotifyException as exc:
                if exc.http_status != 429:
                    reason = str(exc.msg).split("\n")[-1].strip()
                    raise SpotifyError(
                        f"Spotify {what}: HTTP {exc.http_status}: {reason}"
                    ) from None
                retry_after = _retry_after((exc.headers or {}).get("Retry-After"))
                if waits >= MAX_RATE_LIMIT_WAITS:
                    raise RateLimitError(
                        f"Spotify {what}: still rate limited (HTTP 429) after {waits} waits; "
                        "try again later"
                    ) from None
                if retry_after > self.max_wait:
                    raise RateLimitError(
                        f"Spotify {what}: rate limited (HTTP 429), Retry-After {retry_after:g}s "
                        f"is over the {self.max_wait:g}s cap; try again later or raise "
                        "download.rate_limit_max_wait"
                    ) from None
                waits += 1
                log.warning(
                    "Spotify rate limit on %s: waiting %gs (Retry-After)", what, retry_after
                )
                self.sleep(retry_after)
            except SpotifyOauthError as exc:
                if exc.error in ("invalid_client", "unauthorized_client"):
                    detail = exc.error + (
                        f": {exc.error_description}" if exc.error_description else ""
                    )
                    raise SpotifyAuthError(
                        f"Spotify login failed: the credentials were rejected ({detail}); "
                        "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
                    ) from None
                response = getattr(exc.__context__, "response", None)  # spotipy's HTTPError
                status = f"HTTP {response.status_code}" if response is not None else "error"
                detail = f": {exc.error}" if exc.error else ""
                raise SpotifyError(
                    f"Spotify login failed ({status}{detail}): check SPOTIFY_CLIENT_ID/SECRET "
                    "and SPOTIFY_TOKEN_URL"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise SpotifyUnreachable(
                    f"Spotify {what}: cannot reach {_network_problem(exc)}"
                ) from None
            except requests.RequestException as exc:
                raise SpotifyError(f"Spotify {what}: cannot reach the API: {exc}") from None

    def _get(self, what: str, key: str, fn: Callable[[], Any]) -> Any:
        return self.cache.get_or_compute(key, lambda: self._call(what, fn))

    def _pages(self, what: str, first: dict[str, Any]) -> list[dict[str, Any]]:
        """All items of a paging object, following `next` URLs."""
        items: list[dict[str, Any]] = []
        page: dict[str, Any] | None = first
        while page:
            items += page.get("items") or []
            nxt = page.get("next")
            if not nxt:
                break
            page = self._get(what, f"next:{nxt}", lambda n=nxt: self.sp._get(n))
        return items

    # -- public ----------------------------------------------------------------------------

    def track(self, track_id: str) -> Track:
        t = self._get(f"track {track_id}", f"track:{track_id}", lambda: self.sp.track(track_id))
        return track_from_api(t)

    def album(self, album_id: str, artist_genres: tuple[str, ...] = ()) -> Collection:
        what = f"album {album_id}"
        album = self._get(what, f"album:{album_id}", lambda: self.sp.album(album_id))
        items = self._pages(what, album.get("tracks") or {})
        disc_total = max((int(t.get("disc_number") or 1) for t in items if t), default=1)
        coll = Collection(
            "album",
            album.get("name") or album_id,
            album.get("external_urls", {}).get("spotify", ""),
        )
        for t in items:
            if not t:
                continue
            full = t
            if not (t.get("external_ids") or {}).get("isrc") and t.get("id"):
                # Simplified track objects carry no ISRC; the full object does (cached).
                full = self._get(
                    f"track {t['id']}", f"track:{t['id']}", lambda i=t["id"]: self.sp.track(i)
                )
            coll.tracks.append(track_from_api(full, album, disc_total, artist_genres))
        return coll

    def artist(self, artist_id: str) -> Collection:
        what = f"artist {artist_id}"
        artist = self._get(what, f"artist:{artist_id}", lambda: self.sp.artist(artist_id))
        genres = tuple(artist.get("genres") or ())
        first = self._get(
            what,
            f"artist_albums:{artist_id}",
            lambda: self.sp.artist_albums(artist_id, include_groups="album,single", limit=50),
        )
        releases = self._pages(what, first)
        coll = Collection("artist", artist.get("name") or artist_id, "")
        seen: set[tuple[str, ...]] = set()
        for release in releases:
            if not release or not release.get("id"):
                continue
            for track in self.album(release["id"], genres).tracks:
                # The same song on an album and a single: keep the first release only.
                keys = {("name", track.title.casefold(), str(round(track.duration_s)))}
                if track.isrc:
                    keys.add(("isrc", track.isrc.upper()))
                if keys & seen:
                    continue
                seen |= keys
                coll.tracks.append(track)
        return coll

    def playlist(self, playlist_id: str) -> Collection:
        what = f"playlist {playlist_id}"
        pl = self._get(
            what,
            f"playlist:{playlist_id}",
            lambda: self.sp.playlist(playlist_id, additional_types=("track", "episode")),
        )
        name = pl.get("name") or playlist_id
        coll = Collection("playlist", name, (pl.get("external_urls") or {}).get("spotify", ""))
        entries = self._pages(what, pl.get("tracks") or pl.get("items") or {})
        for pos, entry in enumerate(entries, start=1):
            obj = (entry or {}).get("track") or (entry or {}).get("item") if entry else None
            if not obj:
                coll.warnings.append(f"playlist {name!r} position {pos}: empty entry, skipped")
            elif entry.get("is_local") or obj.get("is_local"):
                coll.warnings.append(
                    f"playlist {name!r} position {pos}: local file {obj.get('name')!r} "
                    "is not on Spotify, skipped"
                )
            elif obj.get("type", "track") != "track" or obj.get("episode") is True:
                # Episodes come as `type: episode`, or track-shaped with `episode: true`.
                coll.warnings.append(
                    f"playlist {name!r} position {pos}: episode "
                    f"{obj.get('name')!r} is not a song, skipped"
                )
            elif not obj.get("id"):
                coll.warnings.append(
                    f"playlist {name!r} position {pos}: track without an id, skipped"
                )
            else:
                coll.tracks.append(track_from_api(obj))
        return coll
