"""Passage links and the rate limiter, without a server."""

from newsbot.links import PassageLinks
from newsbot.web.ratelimit import RateLimiter
from tests.newsbot_serve import SECRET


def test_links_sign_the_path_and_a_public_store_needs_none():
    signed = PassageLinks("https://news.example.org/", SECRET)
    url = signed.url("0123456789abcdef", 3, 9, "quoted")
    assert url.startswith("https://news.example.org/p/0123456789abcdef:3-9?h=") and url.endswith("#q")
    signature = url.split("sig=")[1].removesuffix("#q")
    assert signed.allows("/p/0123456789abcdef:3-9", signature)
    assert not signed.allows("/p/0123456789abcdef:3-10", signature) and not signed.allows("/p/x", None)
    assert not PassageLinks("", "another-secret-0123456789").allows("/p/0123456789abcdef:3-9", signature)
    public = PassageLinks("", None)
    assert public.allows("/p/anything", None) and "sig=" not in public.url("0123456789abcdef", 3, 9)


def test_each_client_gets_a_burst_then_the_rate():
    now = [0.0]
    limiter = RateLimiter(rate=0.5, burst=3, clock=lambda: now[0])
    assert [limiter.wait("a") for _ in range(4)] == [0, 0, 0, 2.0]
    assert limiter.wait("b") == 0  # another client has its own bucket
    now[0] = 2.0
    assert limiter.wait("a") == 0 and limiter.wait("a") == 2.0
    now[0] = 100.0
    assert [limiter.wait("a") for _ in range(4)] == [0, 0, 0, 2.0]  # refilled, never past the burst
