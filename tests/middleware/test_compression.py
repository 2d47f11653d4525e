from __future__ import annotations

import gzip

import pytest

from daloy_edge import App, ConfigError, KeyRing, Response
from daloy_edge.middleware.compression import (
    Compression,
    CompressionConfig,
    brotli_available,
    choose_encoding,
)
from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect, csrf_token
from daloy_edge.middleware.sessions import SessionConfig, Sessions
from daloy_edge.testing import TestClient
from tests.support.calls import calls_made

BIG = b'{"items":[' + b",".join(b'{"name":"item","tags":["a","b"]}' for _ in range(200)) + b"]}"
KEYS = KeyRing(["z" * 32])


def make_app(config: CompressionConfig | None = None) -> App:
    app = App(
        middleware=[
            Compression(config),
            Sessions(SessionConfig(keys=KEYS)),
            CSRFProtect(CSRFConfig(keys=KEYS)),
        ]
    )

    @app.get("/big")
    async def big(request):
        return Response(BIG, media_type="application/json", headers={"etag": '"v1"'})

    @app.get("/small")
    async def small(request):
        return Response(BIG[:1000], media_type="application/json")

    @app.get("/cookie")
    async def cookie(request):
        response = Response(BIG, media_type="application/json")
        response.set_cookie("pref", "1")
        return response

    @app.get("/token")
    async def token(request):
        return Response.html(f"<p>{csrf_token(request)}</p>" + "x" * 2000)

    @app.get("/no-transform")
    async def no_transform(request):
        return Response(
            BIG, media_type="application/json", headers={"cache-control": "no-transform"}
        )

    @app.get("/cached")
    async def cached(request):
        if request.headers.get("if-none-match"):
            return Response(status=304, headers={"etag": '"v1"'})
        return Response(BIG, media_type="application/json", headers={"etag": '"v1"'})

    @app.get("/png")
    async def png(request):
        return Response(BIG, media_type="image/png")

    @app.get("/part")
    async def part(request):
        headers = {"content-range": f"bytes 0-1999/{len(BIG)}", "etag": '"v1"'}
        return Response(BIG[:2000], status=206, headers=headers, media_type="application/json")

    return app


def get(path: str, encoding: str = "gzip", **headers: str):
    return TestClient(make_app()).get(path, headers={"accept-encoding": encoding, **headers})


def test_large_json_is_gzipped_with_vary():
    response = get("/big")
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(response.content) == BIG
    assert "Accept-Encoding" in response.headers.get_all("vary")


def test_compressed_etag_becomes_weak():
    assert get("/big").headers["etag"] == 'W/"v1"'


def test_client_without_accept_encoding_gets_identity_with_vary():
    response = TestClient(make_app()).get("/big")
    assert "content-encoding" not in response.headers
    assert "Accept-Encoding" in response.headers.get_all("vary")


def test_body_below_one_kib_is_not_compressed():
    assert "content-encoding" not in get("/small").headers


def test_response_that_sets_a_cookie_is_not_compressed():
    assert "content-encoding" not in get("/cookie").headers


def test_response_that_carries_a_csrf_token_is_not_compressed():
    assert "content-encoding" not in get("/token").headers


def test_a_csrf_token_page_to_a_signed_in_client_is_not_compressed():
    # BREACH: once the session cookie is set, the token page sets no cookie of its own;
    # the token is the secret still, and a same-origin request (which an attacker's
    # injected text can ride in) must not get it compressed.
    client = TestClient(make_app())
    first = client.get("/token", headers={"accept-encoding": "gzip"})
    assert "set-cookie" in first.headers
    again = client.get(
        "/token", headers={"accept-encoding": "gzip", "sec-fetch-site": "same-origin"}
    )
    assert "set-cookie" not in again.headers
    assert "content-encoding" not in again.headers
    assert "Accept-Encoding" in again.headers.get_all("vary")


def test_a_cross_site_request_without_credentials_is_compressed():
    # Nothing secret is answered to a request that carries none.
    response = get("/big", **{"sec-fetch-site": "cross-site"})
    assert response.headers["content-encoding"] == "gzip"


def test_a_body_of_exactly_the_threshold_is_compressed():
    response = TestClient(make_app(CompressionConfig(minimum_size=len(BIG)))).get(
        "/big", headers={"accept-encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"


def test_cross_site_credentialed_request_is_not_compressed():
    response = get("/big", cookie="a=b", **{"sec-fetch-site": "cross-site"})
    assert "content-encoding" not in response.headers


def test_same_origin_credentialed_request_is_compressed():
    response = get("/big", cookie="a=b", **{"sec-fetch-site": "same-origin"})
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    ("origin", "compressed"),
    [
        ("https://evil.example", False),
        ("null", False),  # a sandboxed frame or a data: page
        ("https://testserver:443", True),  # the request's own origin, its default port named
    ],
)
def test_without_fetch_metadata_the_origin_decides_a_credentialed_request(
    origin: str, compressed: bool
):
    # A browser without Sec-Fetch-Site (Safari before 16.4) still sends Origin on a
    # cross-origin fetch.
    response = get("/big", cookie="a=b", origin=origin)
    assert ("content-encoding" in response.headers) is compressed


def test_credentialed_request_marked_same_origin_then_cross_site_is_not_compressed():
    # Runtimes that join repeated fields see "same-origin, cross-site": not same-origin.
    lines = [
        ("accept-encoding", "gzip"),
        ("cookie", "a=b"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-site", "cross-site"),
    ]
    response = TestClient(make_app()).get("/big", headers=lines)
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/cookie", {}),
        ("/big", {"authorization": "Bearer x", "sec-fetch-site": "cross-site"}),
    ],
)
def test_a_response_left_uncompressed_against_breach_still_varies_on_accept_encoding(path, headers):
    response = get(path, **headers)
    assert "content-encoding" not in response.headers
    assert "Accept-Encoding" in response.headers.get_all("vary")


def test_a_handlers_content_length_is_restated_for_the_compressed_body():
    app = App(middleware=[Compression(CompressionConfig(brotli=False))])

    @app.get("/sized")
    async def sized(request):
        return Response(
            BIG, media_type="application/json", headers={"content-length": str(len(BIG))}
        )

    client = TestClient(app)
    packed = client.get("/sized", headers={"accept-encoding": "gzip"})
    assert packed.headers["content-length"] == str(len(packed.content)) != str(len(BIG))
    head = client.head("/sized", headers={"accept-encoding": "gzip"})
    assert head.headers["content-length"] == packed.headers["content-length"]


def test_an_answer_the_handler_encoded_itself_is_sent_as_it_is():
    app = App(middleware=[Compression(CompressionConfig(brotli=False))])

    @app.get("/packed")
    async def packed(request):
        return Response(
            gzip.compress(BIG), media_type="application/json", headers={"content-encoding": "gzip"}
        )

    response = TestClient(app).get("/packed", headers={"accept-encoding": "gzip"})
    assert response.headers.get_all("content-encoding") == ["gzip"]
    assert gzip.decompress(response.content) == BIG


def test_no_transform_is_respected():
    assert "content-encoding" not in get("/no-transform").headers


def test_incompressible_type_is_left_alone():
    assert "content-encoding" not in get("/png").headers


def test_a_partial_answer_is_sent_as_the_range_it_names_not_compressed():
    """RFC 9110, 14.4: a 206's Content-Range counts bytes of the selected representation.
    Compressed alone, the part went out as "bytes 0-1999" of a gzip representation that
    does not exist, so a client joining ranges (a resumed download, a media player)
    assembled bytes that decode to nothing."""
    response = get("/part", range="bytes=0-1999")
    assert response.status == 206
    assert "content-encoding" not in response.headers
    assert response.content == BIG[:2000]
    assert response.headers["content-range"] == f"bytes 0-1999/{len(BIG)}"
    assert response.headers["etag"] == '"v1"'


def test_head_carries_the_encoding_and_length_get_would_have():
    client = TestClient(make_app())
    got = client.get("/big", headers={"accept-encoding": "gzip"})
    head = client.head("/big", headers={"accept-encoding": "gzip"})
    assert head.content == b""
    assert head.headers["content-encoding"] == got.headers["content-encoding"] == "gzip"
    assert head.headers["content-length"] == str(len(got.content))


@pytest.mark.skipif(not brotli_available(), reason="brotli is not installed")
def test_brotli_is_preferred_when_installed():
    import brotli

    response = get("/big", "gzip, br")
    assert response.headers["content-encoding"] == "br"
    assert brotli.decompress(response.content) == BIG


def test_accept_encoding_sent_as_two_lines_counts_both():
    # What runtimes that join repeated fields deliver as "identity, gzip".
    client = TestClient(make_app(CompressionConfig(brotli=False)))
    lines = [("accept-encoding", "identity"), ("accept-encoding", "gzip")]
    response = client.get("/big", headers=lines)
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(response.content) == BIG


def test_brotli_is_never_chosen_when_not_offered():
    config = CompressionConfig(brotli=False)
    response = TestClient(make_app(config)).get("/big", headers={"accept-encoding": "br, gzip"})
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.1", "gzip"),
        ("gzip;q=0", None),
        ("*", "br"),
        ("identity", None),
        ("gzip;q=abc", None),
        ("gzip;level=1;q=0", None),
        ("br;q=0, gzip;foo=bar;q=0", None),
        ("gzip ; q = 0", None),
        ("", None),
    ],
)
def test_accept_encoding_negotiation(header, expected):
    assert choose_encoding(header, ("br", "gzip")) == expected


@pytest.mark.parametrize(
    "header", ["\xa0gzip", "gzip\u2028", "gzip\x1c;q=1", "br;q=0, \x85gzip", "gzip;q=\xa00.5"]
)
def test_a_coding_or_weight_set_off_by_whitespace_other_than_spaces_and_tabs_is_not_read(header):
    # "\xa0gzip" names no coding (RFC 9110 allows spaces and tabs around one): read as
    # gzip, an answer went out compressed to a client that accepts none.
    assert choose_encoding(header, ("br", "gzip")) is None


@pytest.mark.parametrize("item", ["", "x;q=1", "deflate", "br;q=0.5"])
def test_an_accept_encoding_of_thousands_of_items_is_read_without_a_call_per_item(item):
    # The flood: 8 KiB of commas in any client's Accept-Encoding was split and weighed
    # item by item, 2.6 ms of CPU for each compressible answer (compressing one: 0.01 ms).
    def work(count: int) -> int:
        header = ",".join([item] * count)
        return calls_made(lambda: choose_encoding(header, ("br", "gzip")))

    assert work(4000) == work(4)
    assert choose_encoding(",".join([item] * 4000), ("br", "gzip")) == (
        "br" if item.startswith("br") else None
    )


@pytest.mark.parametrize(
    ("before", "flood", "after", "chosen"),
    [
        ("br,", ",", "gzip", "br"),
        ("*;q=0,", ", ", "gzip", "gzip"),
        ("gzip;q=0.5,", "xbr,", "", "gzip"),
        ("br;q=0.5,", "gzip;q=0,", "", "br"),
        ("gzip;level=1", ";q", "", None),
        ("gzip", ";q=1", ";level=1", "gzip"),
    ],
)
def test_an_accept_encoding_flood_between_items_it_names_is_read_without_a_call_per_item(
    before, flood, after, chosen
):
    # Only a flood of items naming no offered coding was skipped: with "br" before 8 KiB
    # of commas and "gzip" after, or a coding's parameters flooded, every item and every
    # parameter was still split and weighed, the 2.6 ms of CPU the flood cost before.
    def work(count: int) -> int:
        header = before + flood * count + after
        return calls_made(lambda: choose_encoding(header, ("br", "gzip")))

    assert work(2000) == work(2)
    assert choose_encoding(before + flood * 2000 + after, ("br", "gzip")) == chosen


@pytest.mark.parametrize("weight", ["2", "1.5", "inf", "1e0", "1_0", "\u0661", "0.0001", ".5"])
def test_a_weight_outside_the_qvalue_grammar_refuses_the_coding(weight):
    assert choose_encoding(f"gzip;q={weight}", ("br", "gzip")) is None


def test_an_out_of_range_weight_does_not_outrank_a_valid_one():
    assert choose_encoding("br;q=0.5, gzip;q=2", ("br", "gzip")) == "br"


@pytest.mark.parametrize("weight", ["1", "1.", "1.000", "0.001", "0.5"])
def test_weights_at_the_edges_of_the_qvalue_grammar_are_read(weight):
    assert choose_encoding(f"br;q=0, gzip;q={weight}", ("br", "gzip")) == "gzip"


def test_a_304_to_a_client_holding_the_compressed_copy_names_it_as_its_200_did():
    # Its strong tag matched no stored copy, so a cache holding W/"v1" could not freshen it.
    sent = get("/cached")
    assert sent.headers["etag"] == 'W/"v1"'
    response = get("/cached", **{"if-none-match": 'W/"v1"'})
    assert response.status == 304
    assert response.headers["etag"] == 'W/"v1"'
    assert "Accept-Encoding" in response.headers.get_all("vary")


def test_a_304_to_a_client_holding_the_identity_copy_keeps_the_strong_tag():
    response = get("/cached", encoding="identity", **{"if-none-match": '"v1"'})
    assert response.status == 304
    assert response.headers["etag"] == '"v1"'


def test_a_304_to_a_client_holding_the_identity_copy_names_the_vary_its_200_did():
    sent = get("/cached", encoding="identity")
    assert "Accept-Encoding" in sent.headers.get_all("vary")
    response = get("/cached", encoding="identity", **{"if-none-match": '"v1"'})
    assert response.status == 304
    assert response.headers.get_all("vary").count("Accept-Encoding") == 1


@pytest.mark.parametrize(("encoding", "tag"), [("identity", '"v1"'), ("gzip", 'W/"v1"')])
def test_a_304_to_a_cache_naming_both_copies_picks_the_copy_this_client_accepts(encoding, tag):
    """A shared cache revalidating both its copies names both tags (RFC 9111, 4.3.1) and
    serves the copy the 304's tag names: the weak one handed gzip bytes to a client that
    accepts no coding."""
    both = {"if-none-match": '"v1", W/"v1"'}
    assert get("/cached", encoding=encoding).headers["etag"] == tag
    response = get("/cached", encoding=encoding, **both)
    assert response.status == 304
    assert response.headers["etag"] == tag


def test_a_304_to_a_credentialed_cross_site_request_names_the_identity_copy_its_200_sent():
    cross_site = {"cookie": "pref=1", "sec-fetch-site": "cross-site"}
    assert get("/cached", **cross_site).headers["etag"] == '"v1"'
    response = get("/cached", **cross_site, **{"if-none-match": '"v1", W/"v1"'})
    assert response.status == 304
    assert response.headers["etag"] == '"v1"'


def test_threshold_below_one_kib_refuses_to_build():
    with pytest.raises(ConfigError):
        CompressionConfig(minimum_size=100)


def test_a_threshold_of_nan_refuses_to_build():
    # Every size passes a NaN threshold: responses under 1 KiB were compressed.
    with pytest.raises(ConfigError, match="minimum_size"):
        CompressionConfig(minimum_size=float("nan"))
