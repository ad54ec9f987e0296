from pathlib import Path

import pytest

from newsbot.ingest.chunker import chunk_article, chunk_spans
from newsbot.ingest.formats import decode_text, parse_text
from newsbot.records import Article
from newsbot.sentences import sentence_spans
from tests.conftest import SAMPLES

WRAPPED = (
    "First paragraph opens here and it\nwraps across lines before it ends. A second sentence.\n\n"
    "Heading without a full stop\n\nThird paragraph. It has two sentences."
)


def test_sentences_ignore_hard_wraps_and_stop_at_paragraphs():
    sentences = [WRAPPED[s:e] for s, e in sentence_spans(WRAPPED)]
    assert sentences == [
        "First paragraph opens here and it\nwraps across lines before it ends.",
        "A second sentence.",
        "Heading without a full stop",
        "Third paragraph.",
        "It has two sentences.",
    ]


@pytest.mark.parametrize(("size", "overlap"), [(120, 0), (200, 60), (700, 150), (2000, 300)])
def test_chunks_are_exact_bounded_ordered_and_cover_every_sentence(size: int, overlap: int):
    text = " ".join(f"Sentence number {i} says something about topic {i % 7}." for i in range(120))
    spans = chunk_spans(text, size, overlap)
    assert all(0 <= s < e <= len(text) and e - s <= size for s, e in spans)
    assert [s for s, _ in spans] == sorted(s for s, _ in spans)
    covered = set()
    for s, e in spans:
        covered.update(range(s, e))
    assert all(i in covered for s, e in sentence_spans(text) for i in range(s, e))
    if overlap:
        assert any(spans[i][0] < spans[i - 1][1] for i in range(1, len(spans)))
    else:
        assert all(spans[i][0] >= spans[i - 1][1] for i in range(1, len(spans)))


def test_a_sentence_longer_than_the_size_is_cut_at_spaces():
    text = "word " * 400 + "end."
    spans = chunk_spans(text, 300, 50)
    assert all(e - s <= 300 for s, e in spans)
    assert not any(text[s].isspace() or text[e - 1].isspace() for s, e in spans)
    assert spans[-1][1] == len(text)


def test_unicode_offsets_are_characters_not_bytes():
    text = "Café owners said “no” again — twice. 日本語の文です。 Next one here."
    article = Article(key="k", text=text, title="t", source="s")
    for chunk in chunk_article(article, 20, 0):
        assert chunk.text == text[chunk.start : chunk.end]
    assert [text[s:e] for s, e in sentence_spans(text)][-1] == "Next one here."


@pytest.mark.parametrize("path", sorted(p for p in SAMPLES.rglob("*") if p.suffix in {".txt", ".md"}), ids=str)
def test_sample_chunks_are_exact_slices(path: Path):
    article = parse_text(decode_text(path.read_bytes()), origin=str(path), key=str(path), source="samples")
    chunks = chunk_article(article, 300, 80)
    assert len(chunks) >= 2
    for seq, chunk in enumerate(chunks):
        assert chunk.seq == seq and chunk.article_id == article.id
        assert chunk.text == article.text[chunk.start : chunk.end]


def test_seed_chunks_are_exact_slices(shared_data: Path):
    path = shared_data / "seed" / "derna-2015-06-14.txt"
    article = parse_text(decode_text(path.read_bytes()), origin=str(path), key=str(path), source="seed")
    chunks = chunk_article(article, 700, 150)
    assert chunks[0].text.startswith("TRIPOLI, June 14 A Libyan")
    assert any("Ninety percent of Derna city is now under the control of\nMajlis" in c.text for c in chunks)
    assert all(c.text == article.text[c.start : c.end] for c in chunks)
