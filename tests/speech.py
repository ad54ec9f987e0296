"""Speech made offline for the voice tests: Debian's espeak-ng speaks a sentence as WAV, PyAV encodes it as
OGG/Opus, the way Telegram sends voice notes."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import av
import pytest

OPUS_RATE = 48_000


def speak(sentence: str) -> bytes:
    """``sentence`` spoken by espeak-ng (a little slower than its default, which Whisper hears better), as OGG/Opus.
    Without espeak-ng the test skips, saying so, except in CI (which installs it: .ci/run), where it fails."""
    if shutil.which("espeak-ng") is None:
        reason = "espeak-ng is not installed (apt-get install espeak-ng; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    wav = subprocess.run(["espeak-ng", "-s", "140", "--stdout", sentence], capture_output=True, check=True).stdout
    return opus(wav)


def opus(audio: bytes) -> bytes:
    """Any audio PyAV reads, re-encoded as mono OGG/Opus at 48 kHz."""
    out = io.BytesIO()
    with av.open(io.BytesIO(audio)) as source, av.open(out, "w", format="ogg") as target:
        stream = target.add_stream("libopus", rate=OPUS_RATE, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
        for frame in [*source.decode(audio=0), None]:
            for resampled in resampler.resample(frame):
                target.mux(stream.encode(resampled))
        target.mux(stream.encode(None))
    return out.getvalue()
