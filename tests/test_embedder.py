"""The real embedding model (OpenVINO where installed, as configured by default), shared by threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from newsbot.corpus.embedder import Embedder
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
