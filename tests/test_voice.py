"""Voice questions: speech made offline (espeak-ng, OGG/Opus as Telegram sends it), transcribed by the packaged
Whisper tiny.en or by an OpenAI-compatible endpoint on 127.0.0.1, answered through the fake Bot API."""

import io
import json
import wave
from pathlib import Path

import pytest

from newsbot.corpus.store import Store
from newsbot.settings import Settings
from newsbot.speech import SpeechError, SpeechUnavailable, decode, names_in, transcriber
from tests.conftest import WebServer, make_config
from tests.fake_telegram import BOT_USER, FakeTelegram
from tests.speech import opus, speak
from tests.test_bot import USER, build_store, running_bot

NOT_AUDIO = b"This is a text file that says it is a voice note, not audio."


def voice_note(fake: FakeTelegram, file_id: str, audio: bytes, seconds: int = 2) -> dict:
    """A voice message's ``voice`` object, its file served by the fake Bot API."""
    uploaded = fake.upload(file_id, "voice.oga", audio)
    return {k: uploaded[k] for k in ("file_id", "file_unique_id", "file_size")} | {
        "duration": seconds,
        "mime_type": "audio/ogg",
    }


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("voice") / "store")


@pytest.fixture
def endpoint(web: WebServer) -> list[bytes]:
    """An OpenAI-compatible transcription endpoint at web.url('/v1'); returns the requests it received."""
    received: list[bytes] = []

    def transcribe(body: bytes) -> tuple[int, str, bytes]:
        received.append(body)
        if b"broken-recording" in body:
            return 500, "application/json", b'{"error": {"message": "internal error"}}'
        return 200, "application/json", json.dumps({"text": " Who governs Tripoli? "}).encode()

    web.routes["/v1/audio/transcriptions"] = transcribe
    return received


def voice_config(tmp_path: Path, **voice: object) -> Settings:
    return make_config(tmp_path / "store", voice=voice)


# -- transcription --------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_the_packaged_tiny_en_model_transcribes_spoken_questions(tmp_path: Path, store_path: Path):
    whisper = transcriber(voice_config(tmp_path))
    with Store(make_config(store_path)) as store:
        names = names_in(store.newest_titles(40), 40)
    assert "Derna" in names  # told to expect it, tiny.en hears espeak's "Derna", not "the internet"
    derna = whisper.transcribe(speak("Who controls Derna?"), names).lower()
    assert "who" in derna and "derna" in derna, derna  # espeak's "controls" comes back as "can troll"
    tripoli = whisper.transcribe(speak("Who governs Tripoli?"), names).lower()
    assert "governs" in tripoli and "tripoli" in tripoli, tripoli
    assert whisper.transcribe(silence(3)) == ""  # not a made-up word


def test_the_names_to_expect_are_the_titles_capitalised_words_each_once():
    titles = ["Majlis Says It Holds Derna", "Who governs Tripoli? The GNA, says al-Sarraj", "U.S. envoy in Derna"]
    assert names_in(titles, 10) == ["Majlis", "Says", "Holds", "Derna", "Tripoli", "GNA", "Sarraj"]
    assert names_in(titles, 3) == ["Majlis", "Says", "Holds"]
    assert names_in(titles, 0) == []


def test_bad_recordings_are_refused_naming_the_problem():
    with pytest.raises(SpeechError, match="empty"):
        decode(b"", max_seconds=60)
    with pytest.raises(SpeechError, match="could not be decoded as audio"):
        decode(NOT_AUDIO, max_seconds=60)
    with pytest.raises(SpeechError, match=r"the recording is 3 s long; the limit is 2 s"):
        decode(silence(2.5), max_seconds=2)
    assert len(decode(silence(2.5), max_seconds=3)) == 40_000  # 16 kHz mono samples


def silence(seconds: float) -> bytes:
    """``seconds`` of silence as OGG/Opus."""
    wav = io.BytesIO()
    with wave.open(wav, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16_000)
        writer.writeframes(b"\0\0" * int(16_000 * seconds))
    return opus(wav.getvalue())


def test_a_transcriber_that_cannot_be_had_says_why(tmp_path: Path):
    with pytest.raises(SpeechUnavailable, match=r"voice\.backend: off"):
        transcriber(voice_config(tmp_path, backend="off"))
    with pytest.raises(SpeechUnavailable, match=r"no CTranslate2 Whisper model in .*nowhere \(voice\.model\)"):
        transcriber(voice_config(tmp_path, model=str(tmp_path / "nowhere")))
    with pytest.raises(SpeechUnavailable, match=r"llm\.base_url"):
        transcriber(voice_config(tmp_path, backend="openai"))


def test_an_openai_compatible_endpoint_transcribes_when_configured(tmp_path: Path, web: WebServer, endpoint: list):
    remote = transcriber(voice_config(tmp_path, backend="openai", base_url=web.url("/v1"), model="whisper-large"))
    assert remote.transcribe(b"OggS recording bytes") == "Who governs Tripoli?"
    (body,) = endpoint
    assert b"OggS recording bytes" in body and b'name="model"' in body and b"whisper-large" in body
    with pytest.raises(SpeechError, match=r"refused the recording \(HTTP 500\)"):
        remote.transcribe(b"broken-recording")
    from_llm = make_config(tmp_path / "store", voice={"backend": "openai"}, llm={"base_url": web.url("/v1")})
    assert transcriber(from_llm).transcribe(b"OggS") == "Who governs Tripoli?"


# -- through the Bot API ----------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.e2e
async def test_a_voice_note_is_transcribed_answered_and_cited(store_path: Path, telegram: FakeTelegram, tmp_path: Path):
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3") as newsbot:
        chat = telegram.chat(USER)
        question = await telegram.send(chat, USER, voice=voice_note(telegram, "voice-1", speak("Who governs Tripoli?")))
        (sent,) = await telegram.wait_for("sendMessage")
        assert telegram.requests("getFile")[0]["file_id"] == "voice-1"
        heard, answer = sent["text"].split("\n\n", 1)
        assert heard.startswith("Heard: «") and heard.endswith("»") and "tripoli" in heard.lower()
        assert "Tripoli" in answer and "[1]" in answer
        assert sent["reply_parameters"]["message_id"] == question["message_id"]
        assert newsbot.state.latest(USER).question == heard.removeprefix("Heard: «").removesuffix("»")

        button = sent["reply_markup"]["inline_keyboard"][0][0]
        assert button["text"] == "Sources"
        answer_message = {"message_id": 5555, "date": 0, "chat": chat, "from": BOT_USER, "text": sent["text"]}
        await telegram.press(USER, answer_message, button["callback_data"])
        sources = (await telegram.wait_for("sendMessage", 2))[1]
        assert "<blockquote expandable>" in sources["text"] and "Tripoli" in sources["text"]


@pytest.mark.anyio
@pytest.mark.e2e
async def test_bad_recordings_get_a_reply_naming_the_problem_and_the_bot_goes_on(
    store_path: Path, telegram: FakeTelegram, tmp_path: Path
):
    short = {"voice": {"max_seconds": 30}}
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3", config_sections=short):
        chat = telegram.chat(USER)
        await telegram.send(chat, USER, voice=voice_note(telegram, "not-audio", NOT_AUDIO))
        (undecodable,) = await telegram.wait_for("sendMessage")
        assert undecodable["text"].startswith("Sorry, I could not hear a question: the recording could not be decoded")

        await telegram.send(chat, USER, voice=voice_note(telegram, "long", NOT_AUDIO, seconds=600))
        too_long = (await telegram.wait_for("sendMessage", 2))[1]
        assert too_long["text"] == "That recording is 600 s long; I take voice questions of up to 30 s."
        assert [r["file_id"] for r in telegram.requests("getFile")] == ["not-audio"]  # never downloaded

        await telegram.send(chat, USER, voice=voice_note(telegram, "silence", silence(3)))
        wordless = (await telegram.wait_for("sendMessage", 3))[2]
        assert wordless["text"] == "Sorry, I could not hear a question: no words were recognised in the recording."

        await telegram.send(chat, USER, "Who governs Tripoli?")
        assert "Tripoli" in (await telegram.wait_for("sendMessage", 4))[3]["text"]


@pytest.mark.anyio
@pytest.mark.e2e
async def test_the_bot_uses_a_configured_transcription_endpoint_or_says_voice_is_unavailable(
    store_path: Path,
    telegram: FakeTelegram,
    tmp_path: Path,
    web: WebServer,
    endpoint: list,
    caplog: pytest.LogCaptureFixture,
):
    remote = {"voice": {"backend": "openai", "base_url": web.url("/v1")}}
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3", config_sections=remote):
        chat = telegram.chat(USER)
        audio = voice_note(telegram, "audio-1", b"OggS any recording") | {"file_name": "question.ogg"}
        await telegram.send(chat, USER, audio=audio)
        (sent,) = await telegram.wait_for("sendMessage")
        assert sent["text"].startswith("Heard: «Who governs Tripoli?»\n\n") and "Tripoli" in sent["text"][30:]
        assert b"OggS any recording" in endpoint[0]
        assert b'name="prompt"' in endpoint[0] and b"Derna" in endpoint[0]  # the stored articles' names

    missing = {"voice": {"model": str(tmp_path / "no-model")}}
    async with running_bot(store_path, telegram, tmp_path / "bot2.sqlite3", config_sections=missing):
        await telegram.send(telegram.chat(USER), USER, voice=voice_note(telegram, "voice-2", b"OggS"))
        refusal = (await telegram.wait_for("sendMessage", 2))[1]
        assert refusal["text"] == "Sorry, voice questions are not available on this bot. Please type your question."
    assert f"no CTranslate2 Whisper model in {tmp_path / 'no-model'} (voice.model)" in caplog.text  # the log says why
