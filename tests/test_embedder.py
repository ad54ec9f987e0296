"""The real embedding model (OpenVINO where installed, as configured by default), shared by threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from newsbot.corpus.embedder import Embedder, cache_dir
from newsbot.corpus.openvino_encoder import SHORT_TEXT, length_batches
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
