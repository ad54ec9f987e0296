"""The real embedding model (OpenVINO where installed, as configured by default), shared by threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from newsbot.corpus.embedder import Embedder, cache_dir
from newsbot.corpus.openvino_encoder import ROW_BUCKETS, SHORT_TEXT, WIDTH_BUCKETS, bucketed, length_batches
from newsbot.qa.reader import CALIBRATION, calibration_texts
from newsbot.settings import Settings

pytestmark = pytest.mark.e2e

QUESTIONS = ["Who controls Derna?", "Which coalition seized Tripoli in 2014?", "What did the flyby find on Pluto?"]


def test_threads_encoding_at_once_get_the_vectors_of_one_thread():
    """The bot answers chats in worker threads, each encoding its question: none fails, none gets another's."""
    embedder = Embedder(Settings().embedding)
    expected = {question: embedder.encode([question])[0] for question in QUESTIONS}
    asked = QUESTIONS * 40
    with ThreadPoolExecutor(8) as pool:
        vectors = list(pool.map(lambda question: embedder.encode([question])[0], asked))
    assert all(np.allclose(vector, expected[q], atol=1e-5) for q, vector in zip(asked, vectors, strict=True))


def test_short_texts_share_a_batch_and_get_the_vectors_they_get_alone():
    """Candidate names of 2-20 characters go in one call (padding them costs less than more calls); longer texts
    of very different lengths still go apart; batching changes no vector."""
    names = ["oman", "kansas city chiefs", "40-22", "us", "philadelphia eagles", "january 2025"]
    assert [sorted(b.tolist()) for b in length_batches([len(n) for n in names], 32, SHORT_TEXT)] == [list(range(6))]
    long_and_short = [400, 390, 100, 60]
    assert [b.tolist() for b in length_batches(long_and_short, 32, SHORT_TEXT)] == [[0, 1], [2, 3]]
    embedder = Embedder(Settings().embedding)
    together = embedder.encode(names)
    alone = np.stack([embedder.encode([name])[0] for name in names])
    assert np.allclose(together, alone, atol=1e-5)


def test_the_int8_copy_scores_sentences_as_the_model_does_and_is_cached():
    """The answer scores a question's sentences with an int8 copy of the model: its cosines follow fp32's
    closely, it is quantised once and read from the cache after, and it is not the fp32 model."""
    calibration = calibration_texts(CALIBRATION)
    embedder = Embedder(Settings().embedding)
    encode = embedder.int8_encoder(calibration)
    cached = sorted(p.parent for p in cache_dir().glob("*-int8-*/model.xml") if not p.parent.name.startswith("reader"))
    assert cached, f"no int8 embedding model under {cache_dir()}"
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    texts = ["Who controls Derna?", *calibration[10:40]]
    exact, quick = embedder.encode(texts), encode(texts)
    exact_scores, quick_scores = exact[1:] @ exact[0], quick[1:] @ quick[0]
    assert 0 < np.abs(exact - quick).max() < 0.1
    assert np.corrcoef(exact_scores, quick_scores)[0, 1] > 0.97
    assert np.argmax(exact_scores) == np.argmax(quick_scores)
    assert Embedder(Settings().embedding).int8_encoder(calibration)(texts[:1]).shape == (1, embedder.dimension)
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps
    assert encode([]).shape == (0, embedder.dimension)


def test_inputs_are_padded_to_a_bounded_set_of_shapes_that_changes_no_vector():
    """OpenVINO keeps native state for every input shape it meets, so an answering process that met every (rows,
    width) kept growing: each call's input is padded to one of a few shapes, and the padding (copies of the first
    row, masked tokens) changes no vector."""
    ids = np.array([[101, 7, 8, 102], [101, 9, 102, 0], [101, 5, 6, 102]])
    padded = bucketed({"input_ids": ids, "attention_mask": (ids > 0).astype(int)}, 256, 0)
    assert padded["input_ids"].shape == (3, 8) and padded["attention_mask"][:, 4:].sum() == 0
    assert bucketed({"input_ids": ids[:1, :3]}, 256, 0)["input_ids"].shape == (1, 8)
    assert bucketed({"input_ids": np.ones((5, 250), int)}, 256, 0)["input_ids"].shape == (6, 256)
    assert bucketed({"input_ids": np.ones((70, 90), int)}, 90, 0)["input_ids"].shape == (96, 90)
    assert bucketed({"input_ids": np.ones((300, 9), int)}, 90, 0)["input_ids"].shape == (320, 16)
    assert np.array_equal(bucketed({"input_ids": ids[:2]}, 256, 0)["input_ids"][:2, :4], ids[:2])

    embedder = Embedder(Settings().embedding)
    encoder = embedder._openvino
    assert encoder is not None, "the default embedding runtime is OpenVINO"
    shapes: set[tuple[int, int]] = set()
    compiled = encoder._compiled

    def recording(inputs: dict[str, np.ndarray]) -> object:
        shapes.add(inputs["input_ids"].shape)
        return compiled(inputs)

    encoder._compiled = recording
    words = "the council in Derna said on Tuesday that forces loyal to the eastern government".split()
    rng = np.random.default_rng(0)
    for _ in range(60):
        texts = [" ".join(rng.choice(words, rng.integers(1, 60))) for _ in range(rng.integers(1, 40))]
        vectors = embedder.encode(texts)
    assert shapes <= {(r, w) for r in ROW_BUCKETS for w in WIDTH_BUCKETS}, shapes
    assert np.allclose(vectors, np.stack([embedder.encode([text])[0] for text in texts]), atol=1e-5)
