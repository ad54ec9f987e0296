"""Running a sentence-transformers model's transformer with the OpenVINO runtime.

Measured here (2 cores, avx512_bf16): all-MiniLM-L6-v2 on ~700-character passages encodes at 55 chunks/s with
OpenVINO in bf16 against 43 with torch bf16 autocast and 25 with torch fp32, vectors within 1e-4 cosine of
fp32. sentence-transformers' own ``backend="openvino"`` needs optimum-intel, which pins an older
transformers and torchvision; converting the transformer directly needs only the ``openvino`` package.
The converted model is cached, keyed by the model folder, so conversion (about 2 s) happens once.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_POOLING = ("mean", "cls")


class UnsupportedModelError(ValueError):
    """The model has modules (dense layers, unusual pooling) this runner does not reproduce."""


SHORTER = 0.6  # a text shorter than this share of its batch's first text starts a new batch
INT8_PRESET = "mixed"  # NNCF's: asymmetric activations; the top sentence agreed with fp32's for 96 of 100 questions
SHORT_TEXT = 64  # characters (about 16 tokens): texts this short share one batch whatever their lengths
# Every call's input is padded up to one of these row counts and token widths. OpenVINO's CPU plugin prepares and
# keeps native state for each input shape it meets, so an answering process that met every (rows, width) grew by
# hundreds of MB over its first few hundred answers; with the shapes bounded it stops growing (README, Scale).
# Fewer distinct shapes were also faster: padding to multiples of 8 tokens cut a question's sentence embedding
# from 90 to 74 ms (median, interleaved runs; vectors move < 0.005). Above 96 tokens (ingest's chunks, rarely an
# answer's sentence) the widths go by 16: by 32 they cost ingest about 6% in padding.
ROW_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)  # then multiples of 64
WIDTH_BUCKETS = (8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256)


class OpenVinoEncoder:
    def __init__(self, model: Any, location: str, precision: str, batch_size: int, cache_dir: Path) -> None:
        import openvino as ov

        modules = list(model)
        names = [type(m).__name__ for m in modules]
        if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
            raise UnsupportedModelError(f"modules {names} are not Transformer + Pooling (+ Normalize)")
        mode = getattr(modules[1], "pooling_mode", None)
        self.pooling = mode[0] if isinstance(mode, list | tuple) and len(mode) == 1 else mode
        if self.pooling not in SUPPORTED_POOLING:
            raise UnsupportedModelError(f"pooling {self.pooling!r} is not one of {SUPPORTED_POOLING}")
        self.tokenizer = model.tokenizer
        self.max_length = model.max_seq_length
        self.batch_size = batch_size
        self._xml = _converted(model, location, cache_dir)
        hint = "bf16" if precision == "bf16" else "f32"
        self._compiled = ov.Core().compile_model(str(self._xml), "CPU", {"INFERENCE_PRECISION_HINT": hint})
        self._inputs = [port.get_any_name() for port in self._compiled.inputs]

    def int8(self, calibration: Sequence[str]) -> OpenVinoEncoder:
        """A copy running the model in int8 (weights and activations, NNCF static quantisation calibrated on the
        texts ``calibration``), built once and cached beside the fp32 model. Its vectors differ slightly from
        the stored ones: it is for comparing texts with each other, never for vectors that are stored or
        searched."""
        import openvino as ov

        key = hashlib.sha256("\n".join(calibration).encode())
        key.update(f"|{toolkit_versions()}|{INT8_PRESET}".encode())

        def build() -> Any:
            inputs = [self._tokenize([text]) for text in calibration]
            return static_int8(ov.Core().read_model(str(self._xml)), inputs, INT8_PRESET)

        xml = cached_model(self._xml.parent.with_name(f"{self._xml.parent.name}-int8-{key.hexdigest()[:16]}"), build)
        quantized = copy.copy(self)
        quantized._compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        return quantized

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors; texts are encoded longest first so that batches pad little."""
        vectors: np.ndarray | None = None
        for index in length_batches([len(t) for t in texts], self.batch_size, SHORT_TEXT):
            batch = bucketed(self._tokenize([texts[i] for i in index]), self.max_length, self.tokenizer.pad_token_id)
            hidden = np.asarray(self._compiled(batch)[0], dtype=np.float32)[: len(index)]
            pooled = self._pool(hidden, batch["attention_mask"][: len(index)])
            if vectors is None:
                vectors = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            vectors[index] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        assert vectors is not None
        return vectors

    def _tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="np",
        )
        return {name: found[name] for name in self._inputs}

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)


def bucketed(inputs: dict[str, np.ndarray], max_width: int, pad_id: int | None) -> dict[str, np.ndarray]:
    """``inputs`` (token ids, masks: rows x width) padded up to the next of ``ROW_BUCKETS`` rows (copies of the
    first row, whose outputs the caller drops) and of ``WIDTH_BUCKETS`` tokens (padding: ``pad_id``, masked out),
    never wider than ``max_width``. Rows of a transformer do not see each other, and masked tokens are not seen."""
    rows, width = next(iter(inputs.values())).shape
    to_rows = next((b for b in ROW_BUCKETS if b >= rows), -(-rows // 64) * 64)
    to_width = max(width, min(next((b for b in WIDTH_BUCKETS if b >= width), max_width), max_width))
    padded = {}
    for name, values in inputs.items():
        fill = (pad_id or 0) if name == "input_ids" else 0
        wide = np.pad(values, ((0, 0), (0, to_width - width)), constant_values=fill)
        padded[name] = np.concatenate([wide, np.repeat(wide[:1], to_rows - rows, axis=0)])
    return padded


def length_batches(lengths: Sequence[int], batch_size: int, floor: int = 0) -> list[np.ndarray]:
    """Indices, longest first, cut into batches of at most ``batch_size`` that also end where lengths fall below
    ``SHORTER`` of the batch's first: a question's sentences range from 5 to 80 words, and padding them all to
    the longest cost a third of the answer time. Texts no longer than ``floor`` are never cut apart by length:
    padding them costs less than another call (20 candidate names of 2-20 characters, encoded for the answer
    type: 5 calls took 2.5-3.5 times as long as 1, with the same vectors)."""
    order = np.argsort([-n for n in lengths], kind="stable")
    batches: list[list[int]] = []
    for i in order:
        first = lengths[batches[-1][0]] if batches else 0
        if not batches or len(batches[-1]) == batch_size or (first > floor and lengths[i] < SHORTER * first):
            batches.append([])
        batches[-1].append(int(i))
    return [np.array(b) for b in batches]


def _converted(model: Any, location: str, cache_dir: Path) -> Path:
    """The model's transformer as OpenVINO IR, converted once and cached."""
    import openvino as ov

    def convert() -> Any:
        example = model.tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
        with warnings.catch_warnings():  # torch's tracer warns about data-dependent branches it records as traced
            warnings.simplefilter("ignore")
            return ov.convert_model(model[0].auto_model, example_input=dict(example))

    return cached_model(cache_dir / _cache_key(location), convert)


def static_int8(model: Any, inputs: Sequence[dict[str, Any]], preset: str) -> Any:
    """The OpenVINO ``model`` with int8 weights and activations: NNCF's static quantisation for transformers,
    each activation's range calibrated on every one of the model ``inputs``; ``preset`` is NNCF's
    (``performance``: symmetric activations, ``mixed``: asymmetric)."""
    import nncf

    with contextlib.redirect_stdout(sys.stderr):  # its progress bars would corrupt `--json` output
        return nncf.quantize(
            model,
            nncf.Dataset(list(inputs)),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(inputs),
            preset=nncf.QuantizationPreset(preset),
        )


def toolkit_versions() -> str:
    """The OpenVINO and NNCF versions, part of every quantised model's cache key."""
    return f"{version('openvino')}|{version('nncf')}"


def cached_model(folder: Path, build: Callable[[], Any]) -> Path:
    """``folder``/model.xml, the OpenVINO model ``build`` makes, built once and written atomically: processes
    that build it at the same time each write their own staging folder and one of them wins the rename."""
    import openvino as ov

    xml = folder / "model.xml"
    if xml.exists():
        return xml
    folder.parent.mkdir(parents=True, exist_ok=True)
    built = build()
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".converting-"))
    try:
        ov.save_model(built, str(staging / "model.xml"))
        os.replace(staging, folder)
    except OSError:
        if not xml.exists():  # another process did not win the race either
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return xml


def _cache_key(location: str) -> str:
    path = Path(location)
    stamp = ""
    if path.is_dir():
        stamp = "|".join(
            f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in sorted(path.glob("*")) if f.is_file()
        )
    digest = hashlib.sha256(f"{path.resolve() if path.exists() else location}|{stamp}".encode()).hexdigest()[:16]
    return f"{path.name or 'model'}-{digest}"
