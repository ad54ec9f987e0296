"""One configuration object for the whole product.

Defaults live in ``config.yaml``; ``--config FILE`` or ``NEWSBOT_CONFIG`` selects another file, and any key
can be overridden by ``NEWSBOT_<SECTION>__<KEY>`` environment variables (``__`` separates nesting levels).
Secrets (``TELEGRAM_BOT_TOKEN``, ``OPENAI_API_KEY``) are read from the environment only, never from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "NEWSBOT_"
CONFIG_ENV = "NEWSBOT_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"


class ConfigError(ValueError):
    """A configuration value is missing, malformed or out of range; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChromaConfig(_Section):
    mode: Literal["embedded", "http"] = "embedded"
    host: str = "localhost"
    port: int = Field(8000, ge=1, le=65535)
    ssl: bool = False
    collection: str = Field("newsbot_chunks", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


class StoreConfig(_Section):
    path: Path = Path("var/store")
    chroma: ChromaConfig = ChromaConfig()


class EmbeddingConfig(_Section):
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    backend: Literal["auto", "torch", "openvino"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    batch_size: int = Field(64, ge=1, le=4096)
    device: str = "cpu"
    title_prefix: bool = True


class ChunkingConfig(_Section):
    size: int = Field(700, ge=100, le=20000)
    overlap: int = Field(150, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


class IngestConfig(_Section):
    max_input_bytes: int = Field(20_000_000, ge=1)
    fetch_timeout: float = Field(20.0, gt=0)
    user_agent: str = "newsbot/0.1"
    follow_feed_links: bool = True
    batch_chunks: int = Field(256, ge=1)


class RetrievalConfig(_Section):
    k: int = Field(10, ge=1, le=100)
    dense_k: int = Field(50, ge=1, le=1000)
    keyword_k: int = Field(50, ge=1, le=1000)
    dense_weight: float = Field(1.0, ge=0)
    keyword_weight: float = Field(1.0, ge=0)
    rrf_k: int = Field(60, ge=1)
    duplicate_similarity: float = Field(0.6, gt=0, le=1)
    reranker: str = ""


class AnswerConfig(_Section):
    max_words: int = Field(60, ge=10, le=400)
    min_score: float = Field(0.4, ge=0, le=2)
    keyword_weight: float = Field(0.5, ge=0)
    second_quote_ratio: float = Field(0.5, ge=0, le=1)
    max_quotes: int = Field(3, ge=1, le=10)
    other_articles_first: bool = True
    redundancy: float = Field(0.8, gt=0, le=1)
    vote_weight: float = Field(0.6, ge=0)
    vote_temperature: float = Field(0.3, gt=0)
    type_weight: float = Field(4.0, ge=0)


class LlmConfig(_Section):
    provider: Literal["none", "openai"] = "none"
    base_url: str = ""
    model: str = ""
    timeout: float = Field(30.0, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(400, ge=16)


class TelegramConfig(_Section):
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    admins: tuple[int, ...] = ()
    allowed_users: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    poll_timeout: int = Field(30, ge=0, le=50)


class Config(_Section):
    store: StoreConfig = StoreConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    chunking: ChunkingConfig = ChunkingConfig()
    ingest: IngestConfig = IngestConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    answer: AnswerConfig = AnswerConfig()
    llm: LlmConfig = LlmConfig()
    telegram: TelegramConfig = TelegramConfig()


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the YAML file (explicit path, else $NEWSBOT_CONFIG, else the bundled config.yaml), apply
    environment overrides and validate. Raises ConfigError naming the offending key."""
    environ = os.environ if environ is None else environ
    chosen = Path(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        raw = yaml.safe_load(chosen.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"config file {chosen}: cannot read it ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {chosen}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {chosen}: expected a mapping of sections at the top level")
    sources = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != CONFIG_ENV and "__" in name:
            keys = name[len(ENV_PREFIX) :].lower().split("__")
            _set_nested(raw, keys, yaml.safe_load(value) if value else value)
            sources[tuple(keys)] = name
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            origins = [name for keys, name in sources.items() if keys[: len(loc)] == loc]
            where = f" (from {', '.join(origins)})" if origins else f" (in {chosen})"
            problems.append(f"{'.'.join(loc) or '<root>'}: {err['msg']}{where}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _set_nested(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        child = tree.get(key)
        if not isinstance(child, dict):
            child = tree[key] = {}
        tree = child
    tree[keys[-1]] = value
