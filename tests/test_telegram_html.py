"""Every message the bot sends is well-formed Telegram HTML of at most 4,096 UTF-16 code units, whatever the
articles hold: hostile fixtures (long titles, entity floods, emoji, nested tags) checked with a parser."""

from html import unescape
from html.parser import HTMLParser

import pytest

from newsbot.bot.render import MESSAGE_LIMIT, answer_html, citation_html, sources_html, split_message, utf16_length
from newsbot.records import Answer, Citation

TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
}


class TelegramHtml(HTMLParser):
    """Fails on what Telegram rejects: unknown tags, a closing tag that does not close the open one, an
    element left open, a bare ``<`` or ``&``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        assert tag in TELEGRAM_TAGS, f"<{tag}> is not Telegram HTML"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:] or 'nothing'}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        assert "<" not in data and "&" not in data, f"bare markup character in {data[:40]!r}"
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        assert name in {"lt", "gt", "amp", "quot"}, f"&{name}; is not a Telegram entity"
        self.text.append(unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(unescape(f"&#{name};"))


def check(pieces: list[str]) -> str:
    """Each piece valid and within the limit; the text the reader sees, all pieces together."""
    seen = []
    for piece in pieces:
        assert utf16_length(piece) <= MESSAGE_LIMIT, f"{utf16_length(piece)} UTF-16 units"
        parser = TelegramHtml()
        parser.feed(piece)
        parser.close()
        assert not parser.stack, f"left open: {parser.stack}"
        assert "".join(parser.text).strip(), "an empty message"
        seen.append("".join(parser.text))
    return " ".join(seen)


def cite(title: str = "Harbour tax", quote: str = "The council agreed.", n: int = 1) -> Citation:
    return Citation(n, "abc123", title, "riverton-gazette", "2025-03-03", "https://example.org/a", 0, 10, quote)


def words(text: str) -> list[str]:
    return text.replace("…", " ").split()


@pytest.mark.parametrize(
    "citation",
    [
        cite(title="Very long title " * 320),  # 5,120 characters
        cite(quote="&" * 1500),
        cite(quote="<" * 3000),
        cite(quote="\U0001f600" * 2999),  # 5,998 UTF-16 units
        cite(title="<b>nested</b> & <i>tags</i> " * 200, quote="<blockquote>" * 400),
    ],
    ids=["long title", "ampersands", "less-than signs", "emoji", "markup in text"],
)
def test_a_hostile_source_is_sent_as_valid_pieces(citation: Citation):
    for html in (citation_html(citation), sources_html([citation, cite(n=2)])):
        seen = check(split_message(html))
        assert "The council agreed." in seen or html == citation_html(citation)


def test_a_long_answer_keeps_every_word_across_pieces():
    text = " ".join(f"word{i} & <tag{i}> \U0001f600" for i in range(2000))
    answer = Answer(text=text, abstained=False, citations=[], notes=["a note " * 800])
    pieces = split_message(answer_html(answer))
    assert len(pieces) > 2
    assert words(check(pieces)) == words(unescape(answer_html(answer)).replace("<i>", "").replace("</i>", ""))


def test_a_cut_inside_an_element_closes_and_reopens_it():
    html = "<b>" + "bold " * 1000 + "<i>" + "both " * 1000 + "</i></b>"
    pieces = split_message(html, limit=1000)
    check(pieces)
    assert all(p.startswith("<b>") for p in pieces)
    assert any(p.startswith("<b><i>") for p in pieces) and pieces[-1].endswith("</i></b>")
    assert words(check(pieces)) == words("bold " * 1000 + "both " * 1000)


def test_emoji_count_two_units_and_are_never_split():
    pieces = split_message("\U0001f600" * 2999)
    assert [utf16_length(p) for p in pieces] == [4096, 5998 - 4096]
    assert "".join(pieces) == "\U0001f600" * 2999
