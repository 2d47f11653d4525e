import pytest

from daloy_edge import Response


@pytest.mark.parametrize(
    "location",
    ["/next", "/a/b?c=d#e", "https://example.com/x", "http://example.com", "/caf\u00e9"],
)
def test_redirect_accepts_local_paths_and_http_urls(location):
    assert Response.redirect(location).headers["location"] == location


@pytest.mark.parametrize(
    "location",
    [
        "//evil.example/x",
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/\r/evil.example/x",
        "\t//evil.example/x",
        "/\\evil.example/x",
        "/\x0b/evil.example/x",
        "/\x7f/evil.example/x",
        "javascript:alert(1)",
        "evil.example",
    ],
    ids=[
        "protocol-relative",
        "tab-between-slashes",
        "newline-between-slashes",
        "cr-between-slashes",
        "leading-tab",
        "backslash",
        "vertical-tab",
        "delete",
        "javascript-scheme",
        "bare-host",
    ],
)
def test_redirect_refuses_a_target_a_browser_would_read_as_another_site(location):
    # Browsers remove tabs and newlines from URLs and read "\\" as "/", so each of these
    # could leave the site as an open redirect.
    with pytest.raises(ValueError):
        Response.redirect(location)
