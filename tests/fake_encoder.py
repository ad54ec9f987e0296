"""A small deterministic stand-in for the embedding model, behind the store's encoder interface, so that
unit tests of the write path, the store and its repair load no model (as simonw/llm's tests register an
embedding model of their own)."""

import zlib
from collections.abc import Callable, Sequence

import numpy as np

from newsbot.text import WORD


class HashingEncoder:
    """Each word hashed into one of ``dimension`` buckets; texts sharing words get similar vectors."""

    name = "tests/hashing-encoder"
    dimension = 64
    runtime = "numpy"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        vectors[:, 0] = 1e-3  # never the zero vector, whose cosine is undefined
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                vectors[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def int8_encoder(self, calibration: Sequence[str]) -> Callable[[Sequence[str]], np.ndarray]:
        return self.encode
