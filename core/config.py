"""Load and validate config.yaml (pydantic v2). Every error becomes ONE line:

config.yaml: download.format: 'mp4' is not one of mp3, m4a, flac, opus, ogg, wav
"""

from __future__ import annotations

import os
import re
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

FORMATS: tuple[str, ...] = ("mp3", "m4a", "flac", "opus", "ogg", "wav")
PROVIDERS: tuple[str, ...] = ("youtube-music", "youtube")
DEFAULT_OUTPUT = "{artist}/{album}/{disc-number}{track-number} - {title}.{output-ext}"
TEMPLATE_KEYS: tuple[str, ...] = (
    "artist",
    "artists",
    "album",
    "album-artist",
    "title",
    "track-number",
    "track-total",
    "disc-number",
    "disc-total",
    "year",
    "date",
    "genre",
    "isrc",
    "track-id",
    "output-ext",
)
SPOTIFY_URL_RE = re.compile(
    r"^(?:https?://open\.spotify\.com/(?:intl-[a-z-]+/)?(?:user/[^/?#]+/(?=playlist/))?"
    r"(?P<kind>track|album|artist|playlist)/(?P<id>[A-Za-z0-9]+)(?:[/?#].*)?"
    r"|spotify:(?:user:[^:]+:(?=playlist:))?(?P<kind2>track|album|artist|playlist):"
    r"(?P<id2>[A-Za-z0-9]+))$"
)


class ConfigError(Exception):
    """A configuration problem; str() is the one line shown to the user (exit code 2)."""


_SHORT = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 100


def _show(value: object) -> str:
    """A value quoted in an error line, cut short: the line stays one readable line even
    for a long string or a nested structure (YAML aliases can make a huge one)."""
    return _SHORT.repr(value)


def parse_spotify_url(url: str) -> tuple[str, str]:
    """Return (kind, id) for an open.spotify.com URL or a spotify: URI."""
    m = SPOTIFY_URL_RE.match(url.strip())
    if not m:
        raise ValueError(f"{_show(url)} is not a Spotify track/album/artist/playlist URL")
    return (m.group("kind") or m.group("kind2"), m.group("id") or m.group("id2"))


class DownloadSettings(BaseModel):
    """The `download:` section. Every key has a default."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = None
    client_secret: str | None = None
    threads: int = Field(default=1, ge=1, le=64)
    max_retries: int = Field(default=5, ge=0, le=50)
    retry_backoff: float = Field(default=1.0, ge=0, le=600)
    format: Literal["mp3", "m4a", "flac", "opus", "ogg", "wav"] = "mp3"
    bitrate: str = "128k"
    output: str = DEFAULT_OUTPUT
    audio_providers: list[Literal["youtube-music", "youtube"]] = Field(
        default_factory=lambda: list(PROVIDERS), min_length=1
    )
    cache_max_size: int = Field(default=1000, ge=1)
    cache_ttl: float = Field(default=3600, ge=0)
    overwrite: Literal["skip", "overwrite", "metadata"] = "skip"
    rate_limit_max_wait: float = Field(default=60, ge=0)
    min_score: float = Field(default=0.6, ge=0, le=1)
    search_limit: int = Field(default=10, ge=1, le=50)

    @field_validator(
        "threads",
        "max_retries",
        "retry_backoff",
        "cache_max_size",
        "cache_ttl",
        "rate_limit_max_wait",
        "min_score",
        "search_limit",
        mode="before",
    )
    @classmethod
    def _not_a_boolean(cls, v: object) -> object:
        # pydantic's lax mode reads YAML `true` as 1; "4" (quoted) stays accepted.
        if isinstance(v, bool):
            raise ValueError(f"{str(v).lower()} is not a number")
        return v

    @field_validator("bitrate", mode="before")
    @classmethod
    def _bitrate(cls, v: object) -> str:
        if not isinstance(v, str) or not re.fullmatch(r"[1-9][0-9]{1,3}k", v):
            raise ValueError(f"{_show(v)} is not a bitrate like 128k, 192k or 320k")
        if not 32 <= int(v[:-1]) <= 512:  # what every lossy encoder we use accepts
            raise ValueError(f"{_show(v)} is not between 32k and 512k")
        return v

    @field_validator("output")
    @classmethod
    def _output(cls, v: str) -> str:
        for key in re.findall(r"\{([^{}]*)\}", v):
            if key not in TEMPLATE_KEYS:
                raise ValueError(
                    f"unknown template key {{{key}}}; known: "
                    + ", ".join("{" + k + "}" for k in TEMPLATE_KEYS)
                )
        if re.search(r"[{}]", re.sub(r"\{[^{}]*\}", "", v)):
            raise ValueError(f"{_show(v)} has a {{ or }} without its partner")
        if not v.strip() or v.startswith("/"):
            raise ValueError(f"{_show(v)} must be a relative path template")
        if any(part.strip() in (".", "..") for part in v.split("/")):
            raise ValueError(f"{_show(v)} must not contain '.' or '..' folders")
        if not v.endswith(".{output-ext}"):
            # otherwise the files get no (or the wrong) extension and players skip them
            raise ValueError(f"{_show(v)} must end with .{{output-ext}}")
        return v


class Item(BaseModel):
    """One entry under songs/albums/artists/playlists."""

    name: str
    url: str
    kind: str
    id: str


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _items(raw: Any, section: str, kind: str) -> list[Item]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{section}: expected a list of {{name: url}} entries")
    items: list[Item] = []
    for i, entry in enumerate(raw):
        where = f"{section}[{i}]"
        if isinstance(entry, str):
            name, url = entry, entry
        elif isinstance(entry, dict) and len(entry) == 1:
            name, url = next(iter(entry.items()))
        else:
            raise ConfigError(f"{where}: expected one {{name: url}} pair, got {_show(entry)}")
        if not isinstance(url, str):
            raise ConfigError(f"{where}: {_show(url)} is not a Spotify URL")
        try:
            got_kind, spotify_id = parse_spotify_url(url)
        except ValueError as exc:
            hint = ""
            if isinstance(name, str) and SPOTIFY_URL_RE.match(name.strip()):
                hint = ' (name and URL swapped? write - "name": "url")'
            raise ConfigError(f"{where}: {exc}{hint}") from None
        if got_kind != kind:
            raise ConfigError(
                f"{where}: {_show(url)} is {_a(got_kind)} URL, expected {_a(kind)} URL"
            )
        items.append(Item(name=str(name), url=url, kind=kind, id=spotify_id))
    return items


class Config(BaseModel):
    """The whole validated configuration."""

    model_config = ConfigDict(extra="forbid")

    version: str = "1.2"
    download: DownloadSettings = Field(default_factory=DownloadSettings)
    songs: list[Any] = Field(default_factory=list)
    albums: list[Any] = Field(default_factory=list)
    artists: list[Any] = Field(default_factory=list)
    playlists: list[Any] = Field(default_factory=list)
    overrides: dict[str, str] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: object) -> object:
        # `version: 1.2` without quotes is a YAML float; it means the same thing.
        if isinstance(v, int | float) and not isinstance(v, bool):
            return str(v)
        return v

    @field_validator(
        "download", "songs", "albums", "artists", "playlists", "overrides", mode="before"
    )
    @classmethod
    def _empty_section(cls, v: object, info: ValidationInfo) -> object:
        # `albums:` with every entry commented out is null in YAML: it means "none".
        if v is None:
            return {} if info.field_name in ("download", "overrides") else []
        return v

    @property
    def items(self) -> list[Item]:
        """All entries in config order: songs, albums, artists, playlists."""
        out: list[Item] = []
        for section, kind in (
            ("songs", "track"),
            ("albums", "album"),
            ("artists", "artist"),
            ("playlists", "playlist"),
        ):
            out += _items(getattr(self, section), section, kind)
        return out

    def override_for(self, track_id: str) -> str | None:
        """The provider URL configured for this Spotify track id, if any."""
        for url, target in self.overrides.items():
            try:
                if parse_spotify_url(url) == ("track", track_id):
                    return target
            except ValueError:
                continue
        return None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:  # a key with a line break or other control character is shown quoted
            out += ("." if out else "") + (part if part.isprintable() else _show(part))
    return out or "(top level)"


def _problem(err: dict[str, Any]) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{_show(value)} is not one of {', '.join(choices)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    msg: str = err["msg"]
    return f"{_show(value)}: {msg[0].lower()}{msg[1:]}"


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: PyYAML keeps the last one, so a second
    `songs:` section would silently drop every song of the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then overriding a key is fine
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, bool) and key_node.style is None:
                raise yaml.constructor.ConstructorError(
                    problem=f"the key {key_node.value} reads as {str(key).lower()} in YAML; "
                    f"quote it: '{key_node.value}':",
                    problem_mark=key_node.start_mark,
                )
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable key: the base constructor reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    problem=f"duplicate key {_show(key)} (first on line {first})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_config(path: Path, environ: dict[str, str] | None = None) -> Config:
    """Read, parse and validate `path`. Raises ConfigError with one line on any problem."""
    env = os.environ if environ is None else environ
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{name}: line {line}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except RecursionError:
        raise ConfigError(f"{name}: malformed YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{name}: {where}malformed YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        problem = _problem(dict(err))
        if err["type"] == "extra_forbidden":
            model: type[BaseModel] = DownloadSettings if loc[:1] == ("download",) else Config
            problem += f" (known keys: {_allowed_keys(model)})"
        raise ConfigError(f"{name}: {_loc(loc)}: {problem}") from None
    try:
        _ = config.items
        for url in config.overrides:
            kind, _id = parse_spotify_url(url)
            if kind != "track":
                raise ValueError(f"{_show(url)} is a {kind} URL, expected a track URL")
            target = config.overrides[url]
            if not re.match(r"https?://[^\s/]+", target.strip()):
                raise ValueError(
                    f"{_show(url)} -> {_show(target)} is not an http(s) URL "
                    "(e.g. https://www.youtube.com/watch?v=...)"
                )
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{name}: overrides: {exc}") from None

    dl = config.download
    # strip: a .env file with CRLF line ends leaves a '\r' that Spotify rejects
    client_id = (env.get("SPOTIFY_CLIENT_ID") or "").strip() or (dl.client_id or "").strip()
    client_secret = (env.get("SPOTIFY_CLIENT_SECRET") or "").strip() or (
        dl.client_secret or ""
    ).strip()
    if not client_id or not client_secret:
        missing = "client_id" if not client_id else "client_secret"
        raise ConfigError(
            f"{name}: download.{missing}: missing Spotify credentials; set SPOTIFY_CLIENT_ID and "
            "SPOTIFY_CLIENT_SECRET in the environment or download.client_id/client_secret"
        )
    config.download = dl.model_copy(update={"client_id": client_id, "client_secret": client_secret})
    return config
