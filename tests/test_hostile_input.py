"""Hostile and unusual files stay inert: control characters never reach the store or the terminal, symlinks do
not lead out of an ingested folder, odd names are quoted, and UTF-16 text is text. Real store, test encoder."""

from pathlib import Path

from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.records import Answer, Citation
from newsbot.terminal import answer_text, passage_text
from tests.test_ingest import write

HOSTILE = (
    "date 2025-03-03 RIVERTON, March 3 The council\x1b]0;pwned\x07 approved the bridge\x1b[2J budget on Monday.\r\n"
    "\r\nThe vote was \x9b2J7 to 2\x1b]52;c;ZWNobyBoaQ==\x07, the clerk said.\x00\n"
)
CONTROL = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]]


def test_control_characters_are_stripped_at_ingest_and_offsets_stay_exact(store: Store, tmp_path: Path):
    report = ingest([write(tmp_path / "news" / "council.md", HOSTILE.replace("\x00", ""))], store)
    assert report.articles_new == 1, report.failures
    (article_id,) = store.article_ids()
    article = store.article(article_id)
    assert not any(c in article.text or c in article.title for c in CONTROL)
    assert "approved the bridge budget on Monday." in article.text
    assert "The vote was 7 to 2, the clerk said." in article.text
    for chunk in store.chunks_of(article_id):
        assert article.text[chunk.start : chunk.end] == chunk.text


def test_terminal_output_carries_no_stored_control_characters():
    quote = "The council\x1b]0;pwned\x07 approved\x1b[2J it."
    citation = Citation(1, "a1", "Title\x1b]52;c;aGk=\x07", "src", None, None, 0, len(quote), quote)
    printed = answer_text(Answer(text=f"According to src: “{quote}” [1]", abstained=False, citations=[citation]))
    assert "\x1b" not in printed and "\x07" not in printed and "approved it." in printed
    view = {"title": "T\x1b[2J", "source": "s", "published": None, "url": None, "article_id": "a1", "start": 0,
            "end": 5, "length": 9, "context_start": 0, "context_end": 9, "before": "", "passage": "ab\x1b[2Jcd",
            "after": "\x9b0mxyz", "verbatim": True}  # fmt: skip
    highlighted = passage_text(view, highlight=True)
    assert highlighted.count("\x1b") == 2  # our own highlight on and off, nothing of the article's
    assert "\x9b" not in highlighted and "abcd\x1b[0mxyz" in highlighted


def test_utf16_files_with_a_byte_order_mark_are_read_as_text(store: Store, tmp_path: Path):
    text = "date 2025-03-03 Das Rathaus von Köln öffnet am Montag wieder für Besucher, sagte die Stadt."
    little = write(tmp_path / "de" / "le.txt", text.encode("utf-16"))  # Python writes a BOM, little-endian
    big = write(
        tmp_path / "de" / "be.txt",
        "\ufeff".encode("utf-16-be") + text.replace("Montag", "Dienstag").encode("utf-16-be"),
    )
    report = ingest([little, big], store)
    assert (report.articles_new, report.failures) == (2, [])
    stored = sorted(store.article(a).text for a in store.article_ids())
    assert len(stored) == 2 and all(t.startswith("Das Rathaus von Köln öffnet am") for t in stored)
    assert {t.split()[6] for t in stored} == {"Montag", "Dienstag"}
    binary = ingest([write(tmp_path / "bin" / "x.txt", b"ab\x00\x01cd" * 10)], store)
    assert binary.failures and "binary" in binary.failures[0]["error"]


def test_a_symlink_out_of_an_ingested_folder_is_not_followed(store: Store, tmp_path: Path):
    secret = Path(write(tmp_path / "outside" / "secret.txt", "The password of the vault is swordfish, said nobody."))
    folder = tmp_path / "inbox"
    write(folder / "real.txt", "The mayor opened the new library on Tuesday, the city said in a statement.")
    (folder / "leak.txt").symlink_to(secret)
    (folder / "alias.txt").symlink_to(folder / "real.txt")  # inside the folder: followed
    report = ingest([str(folder)], store)
    assert report.articles_new == 1 and report.articles_unchanged == 1  # the same file by its resolved path
    assert [f["input"] for f in report.failures] == [str(folder / "leak.txt")]
    assert "outside the folder" in report.failures[0]["error"]
    assert not any("swordfish" in store.article(a).text for a in store.article_ids())


def test_a_failing_file_name_with_a_newline_is_quoted(store: Store, tmp_path: Path):
    name = tmp_path / "odd" / "bad\nFAILED other.txt: forged"
    report = ingest([write(name.with_suffix(".txt"), "")], store)
    (failure,) = report.failures
    assert "\n" not in failure["input"] and failure["input"] == repr(str(name.with_suffix(".txt")))
