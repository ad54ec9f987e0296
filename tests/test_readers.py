import json
import socket
from pathlib import Path

from newsbot.ingest.formats import ReadFailure
from newsbot.ingest.readers import read_inputs
from newsbot.records import Article
from newsbot.settings import IngestSettings
from tests.conftest import SAMPLES, WebServer

CONFIG = IngestSettings(fetch_timeout=5, allow_private_hosts=True)  # the test server is on 127.0.0.1


def read(*inputs: str, config: IngestSettings = CONFIG) -> list[Article | ReadFailure]:
    return list(read_inputs(list(inputs), config))


def only_article(*inputs: str) -> Article:
    results = read(*inputs)
    assert len(results) == 1 and isinstance(results[0], Article), results
    return results[0]


def test_text_file_with_date_marker_and_dateline():
    article = only_article(str(SAMPLES / "libya" / "derna-majlis-offensive.txt"))
    assert article.published == "2015-06-14"
    assert article.dateline == "BENGHAZI, June 14"
    assert article.text.startswith("BENGHAZI, June 14 An Islamist coalition")
    assert article.title.startswith("An Islamist coalition in eastern Libya says it now holds nearly all of Derna")
    assert article.source == "libya"
    assert article.url is None


def test_seed_article_ingests_with_its_date_and_dateline(shared_data: Path):
    article = only_article(str(shared_data / "seed" / "derna-2015-06-14.txt"))
    assert (article.published, article.dateline) == ("2015-06-14", "TRIPOLI, June 14")
    assert "date 2015-06-14" not in article.text
    assert "Ninety percent of Derna city" in article.text


def test_markdown_front_matter_sets_title_source_date_and_url():
    article = only_article(str(SAMPLES / "libya" / "two-governments-explainer.md"))
    assert article.title == "Explainer: who runs Libya in 2015?"
    assert (article.source, article.published) == ("newsbot-samples", "2015-06-15")
    assert article.url == "https://samples.newsbot.example/libya/two-governments"
    assert not article.text.startswith("---")


def test_html_main_text_without_navigation_and_metadata():
    article = only_article(str(SAMPLES / "world" / "pluto-flyby.html"))
    assert article.title == "New Horizons sends home the sharpest views of Pluto yet"
    assert article.published == "2015-07-15"
    assert "12,500 kilometres" in article.text
    assert "Subscribe" not in article.text and "Privacy" not in article.text


def test_json_and_jsonl_objects():
    nepal = only_article(str(SAMPLES / "world" / "nepal-earthquake.json"))
    assert (nepal.published, nepal.dateline) == ("2015-04-26", "KATHMANDU, April 26")
    briefs = read(str(SAMPLES / "world" / "briefs.jsonl"))
    assert [a.published for a in briefs] == ["2015-12-12", "2015-07-03", "2015-04-27", "2015-05-03"]
    assert all(isinstance(a, Article) and a.source == "newsbot-samples" for a in briefs)


def test_feed_file_with_full_content_needs_no_fetch():
    article = only_article(str(SAMPLES / "world" / "science-feed.rss"))
    assert article.title == "Gravitational waves detected for the first time"
    assert article.published == "2016-02-11"
    assert article.url == "https://samples.newsbot.example/science/gravitational-waves"
    assert "1.3 billion years ago" in article.text
    assert "\n\n" in article.text  # paragraphs kept


def test_folder_is_read_recursively_in_stable_order():
    results = read(str(SAMPLES))
    assert all(isinstance(r, Article) for r in results)
    assert len(results) == 9
    assert results == read(str(SAMPLES))


def test_realtimeqa_search_results_ingest_as_is(shared_data: Path):
    path = shared_data / "realtimeqa-2025q1" / "20250103_gcs.jsonl"
    expected = sum(len(json.loads(line)["search_result"]) for line in path.read_text().splitlines())
    results = read(str(path))
    assert len(results) == expected
    articles = [r for r in results if isinstance(r, Article)]
    failures = [r for r in results if isinstance(r, ReadFailure)]
    assert len(articles) >= expected - 2
    assert all(f.error.startswith("no article text") and ":search_result[" in f.input for f in failures)
    first = articles[0]
    assert first.source == "usatoday.com" and first.published == "2021-02-03" and first.url.startswith("https://")


ARTICLE_PAGE = b"""<html><head><title>Harbour reopens</title><script>document.write("<b>injected</b>")</script>
<meta property="article:published_time" content="2024-05-02"></head><body><nav>Menu Login</nav>
<article><h1>Harbour reopens</h1><p>The harbour of the town reopened on Thursday after a storm closed it for a week.
Fishing boats returned to their berths in the afternoon.</p><p>The mayor said repairs to the breakwater would
take another month, and ferries would run a reduced timetable until then.</p></article></body></html>"""


def feed(*links: str) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>{link}</link><pubDate>Fri, 03 May 2024 10:00:00 GMT</pubDate>"
        f"<description>Short teaser {i}.</description></item>"
        for i, link in enumerate(links)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def test_url_page_feed_and_json_are_fetched_and_extracted(web: WebServer):
    web.routes["/news/harbour"] = (200, "text/html; charset=utf-8", ARTICLE_PAGE)
    web.routes["/feed"] = (200, "application/rss+xml", feed(web.url("/news/harbour"), web.url("/gone")))
    web.routes["/api/articles.json"] = (
        200,
        "application/json",
        json.dumps([{"title": "T", "text": "Body text here.", "url": "https://x.example/a"}]).encode(),
    )
    page = only_article(web.url("/news/harbour?utm_source=feed"))
    assert page.title == "Harbour reopens" and page.published == "2024-05-02"
    assert page.url == web.url("/news/harbour") and page.source == "127.0.0.1"
    assert "breakwater" in page.text and "Login" not in page.text and "injected" not in page.text

    fetched, page_gone = read(web.url("/feed"))
    assert isinstance(fetched, Article) and "breakwater" in fetched.text and fetched.published == "2024-05-03"
    assert page_gone == ReadFailure(web.url("/gone"), "HTTP 404 Not Found")  # named, not replaced by the teaser

    (from_json,) = read(web.url("/api/articles.json"))
    assert isinstance(from_json, Article) and from_json.url == "https://x.example/a"


def test_unreachable_missing_oversized_and_unsupported_inputs_are_named(web: WebServer, tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    web.routes["/big"] = (200, "text/html", b"<p>" + b"x" * 5000 + b"</p>")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    inputs = [
        web.url("/missing"),
        f"http://127.0.0.1:{closed_port}/article",
        web.url("/big"),
        str(tmp_path / "nope.txt"),
        str(tmp_path / "scan.pdf"),
    ]
    failures = read(*inputs, config=IngestSettings(fetch_timeout=5, max_input_bytes=1000, allow_private_hosts=True))
    assert [f.input for f in failures] == inputs
    reasons = [f.error for f in failures]
    assert reasons[0].startswith("HTTP 404")
    assert reasons[1].startswith("unreachable")
    assert reasons[2].startswith("too large")
    assert reasons[3] == "no such file or directory"
    assert reasons[4].startswith("unsupported file type '.pdf'")
