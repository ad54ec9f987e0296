"""Server-side request forgery: URLs and feed links naming internal addresses are refused, by name and rule,
before anything connects to them, and the rest of the batch still ingests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.ingest.fetch import fetch, make_client
from newsbot.ingest.formats import ReadFailure
from newsbot.ingest.guard import forbidden_rule
from newsbot.ingest.pipeline import ingest
from newsbot.ingest.readers import read_inputs
from newsbot.records import Article
from newsbot.settings import IngestSettings
from tests.conftest import assert_consistent, make_config, open_store
from tests.feed_server import FeedServer, Page, article_page, rss

PAGE = article_page(
    "Harbour reopens",
    "The harbour of the town reopened on Thursday after a storm closed it for a week.",
    "The mayor said repairs to the breakwater would take another month.",
)


@pytest.fixture
def site() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """A second server on 127.0.0.1 playing an internal service nobody may reach through newsbot."""
    server = FeedServer()
    server.pages["/secret"] = Page(body=article_page("Internal", "The database password is hunter2, it says."))
    yield server
    server.close()


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_each_rule_names_what_it_refuses(address: str, rule: str | None):
    assert forbidden_rule(address) == rule


def test_internal_urls_are_refused_by_name_and_rule_and_the_batch_goes_on(tmp_path: Path, internal: FeedServer):
    good = tmp_path / "harbour.txt"
    good.write_text("The harbour of the town reopened on Thursday after a storm closed it for a week.\n")
    inputs = [
        internal.url("/secret"),  # loopback by address
        f"http://localhost:{internal.port}/secret",  # a name that resolves to loopback
        "http://10.20.30.40/admin",  # a private address: refused before any connection is tried
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata address
        "file:///etc/passwd",
        str(good),
    ]
    with open_store(make_config(tmp_path / "store"), write=True) as store:
        report = ingest(inputs, store)
        assert_consistent(store)
    assert report.articles_new == 1 and report.articles_failed == 5
    errors = {f["input"]: f["error"] for f in report.failures}
    assert errors[inputs[0]] == (
        f"refused {inputs[0]}: 127.0.0.1 is a loopback address "
        "(set ingest.allow_private_hosts to fetch from a private network)"
    )
    assert f"refused {inputs[1]}: localhost (" in errors[inputs[1]] and "is a loopback address" in errors[inputs[1]]
    assert errors[inputs[2]].startswith(f"refused {inputs[2]}: 10.20.30.40 is a private address")
    assert errors[inputs[3]].startswith(f"refused {inputs[3]}: 169.254.169.254 is a link-local address")
    assert errors[inputs[4]] == "refused file:///etc/passwd: scheme 'file' is not http or https"
    assert internal.requests == []  # nothing reached the internal server


def test_a_redirect_to_an_internal_address_is_refused_at_that_hop(site: FeedServer, internal: FeedServer):
    # The site itself is let through by its exact host:port; where it redirects to is checked on its own.
    config = IngestSettings(fetch_timeout=5, allowed_hosts=(site.host,))
    site.pages["/story"] = Page(302, headers={"Location": "/moved"})
    site.pages["/moved"] = Page(301, headers={"Location": internal.url("/secret")})
    site.pages["/fine"] = Page(302, headers={"Location": "/harbour"})
    site.pages["/harbour"] = Page(body=PAGE)
    refused, followed = list(read_inputs([site.url("/story"), site.url("/fine")], config))
    assert refused == ReadFailure(
        site.url("/story"),
        f"refused {internal.url('/secret')}: 127.0.0.1 is a loopback address "
        "(set ingest.allow_private_hosts to fetch from a private network)",
    )
    assert internal.requests == []
    assert isinstance(followed, Article) and "breakwater" in followed.text
    assert followed.url == site.url("/harbour")  # the article is named by where it was found


def test_feed_entries_linking_inside_are_refused_and_full_text_entries_still_land(
    tmp_path: Path, site: FeedServer, internal: FeedServer
):
    site.pages["/feed"] = Page(
        kind="application/rss+xml",
        body=rss(
            ("Secret", internal.url("/secret"), "teaser"),
            ("Local", f"http://localhost:{internal.port}/secret", "teaser"),
            ("Metadata", "http://169.254.169.254/latest/meta-data/iam", "teaser"),
            ("Harbour", site.url("/harbour"), "teaser"),
        ),
    )
    site.pages["/harbour"] = Page(body=PAGE)
    config = make_config(tmp_path / "store", ingest={"allowed_hosts": [site.host]})
    with open_store(config, write=True) as store:
        report = ingest([site.url("/feed")], store)
    assert report.articles_new == 1 and report.articles_failed == 3
    assert [f["input"] for f in report.failures] == [
        internal.url("/secret"),
        f"http://localhost:{internal.port}/secret",
        "http://169.254.169.254/latest/meta-data/iam",
    ]
    assert all(" address (set ingest.allow_private_hosts" in f["error"] for f in report.failures)
    assert internal.requests == []


def test_allowing_private_hosts_connects_to_the_checked_address_with_the_name_as_host(internal: FeedServer):
    config = IngestSettings(fetch_timeout=5, allow_private_hosts=True)
    with make_client(config) as client:
        fetched = fetch(client, f"http://localhost:{internal.port}/secret", config)
    assert b"hunter2" in fetched.content and fetched.url == f"http://localhost:{internal.port}/secret"
    ((path, headers),) = internal.requests
    assert path == "/secret" and headers["host"] == f"localhost:{internal.port}"


def test_redirect_loops_stop(site: FeedServer):
    config = IngestSettings(fetch_timeout=5, allowed_hosts=(site.host,))
    site.pages["/loop"] = Page(302, headers={"Location": "/loop"})
    (failure,) = read_inputs([site.url("/loop")], config)
    assert failure == ReadFailure(site.url("/loop"), "more than 5 redirects")
    assert len(site.requests) == 6
