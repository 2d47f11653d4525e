from __future__ import annotations

import gzip
import mimetypes
import os
from pathlib import Path

import pytest

from daloy_edge import App, ConfigError, KeyRing, static_files
from daloy_edge.middleware.basic_auth import BasicAuth, BasicAuthConfig
from daloy_edge.static import media_type_for
from daloy_edge.testing import TestClient


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    root = tmp_path / "public"
    root.mkdir()
    (root / "a.txt").write_text("hello")
    (root / "sub").mkdir()
    (root / "sub" / "b.css").write_text("b{}")
    (root / ".env").write_text("SECRET=1")
    (root / "page.html.gz").write_bytes(gzip.compress(b"<p>hi</p>"))
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", root / "link.txt")
    app = App()
    app.add_route("/s/{path:path}", static_files(root))
    return TestClient(app)


def test_serves_file_with_type(client: TestClient) -> None:
    response = client.get("/s/a.txt")
    assert response.text == "hello"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_serves_nested_file(client: TestClient) -> None:
    assert client.get("/s/sub/b.css").text == "b{}"


def test_symlink_out_of_root_is_404(client: TestClient) -> None:
    assert client.get("/s/link.txt").status == 404


def test_dotfile_is_404(client: TestClient) -> None:
    assert client.get("/s/.env").status == 404


def test_directory_is_404(client: TestClient) -> None:
    assert client.get("/s/sub").status == 404


def test_missing_file_is_404(client: TestClient) -> None:
    assert client.get("/s/nope.txt").status == 404


@pytest.mark.parametrize("replacement", ["removed", "directory"])
def test_a_file_removed_between_the_checks_and_the_read_is_404_not_500(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replacement: str
) -> None:
    # A deploy swapping files under a running server: the file passed realpath and
    # isfile, then went away (or became a directory) before it was sized and opened.
    # The swap is made at that moment by the size lookup itself, so the race is hit
    # every run; the lookup then reads the file system as it is.
    target = tmp_path / "public" / "a.txt"
    real_getsize = os.path.getsize

    def swapped(path: str) -> int:
        target.unlink()
        if replacement == "directory":
            target.mkdir()
        return real_getsize(path)

    monkeypatch.setattr(os.path, "getsize", swapped)
    response = client.get("/s/a.txt")
    assert response.status == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_deep_missing_path_is_not_looked_up_part_by_part(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every missing part looked up anyway: 4,000 of them, each under a path as long as
    # those before it, is time quadratic in the path.
    looked: list[object] = []
    lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda path, *a, **k: looked.append(path) or lstat(path))

    assert client.get("/s/" + "a/" * 1000 + "x.txt").status == 404
    assert len(looked) < 20


def test_symlink_loop_is_404(client: TestClient, tmp_path: Path) -> None:
    os.symlink("loop", tmp_path / "public" / "loop")

    assert client.get("/s/loop").status == 404


def test_an_empty_path_segment_is_404(client: TestClient) -> None:
    # "sub//b.css" names the file only once a layer folds the slashes: refused as the
    # dot segments are, so a path reads one way in every layer.
    assert client.get("/s/sub//b.css").status == 404


def test_a_max_age_of_zero_builds_and_is_sent(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    app = App()
    app.add_route("/s/{path:path}", static_files(tmp_path, max_age=0))
    assert TestClient(app).get("/s/a.txt").headers["cache-control"] == "public, max-age=0"


def test_a_file_of_exactly_10_mib_is_served_and_one_byte_more_is_404(tmp_path: Path) -> None:
    limit = 10 * 1024 * 1024
    (tmp_path / "at.bin").write_bytes(b"\0" * limit)
    (tmp_path / "past.bin").write_bytes(b"\0" * (limit + 1))
    app = App()
    app.add_route("/s/{path:path}", static_files(tmp_path))
    client = TestClient(app)
    assert len(client.get("/s/at.bin").content) == limit
    assert client.get("/s/past.bin").status == 404


def test_missing_root_refuses_to_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        static_files(tmp_path / "missing")


@pytest.mark.parametrize("max_age", [-5, -1, float("nan"), 0.5, "3600"])
def test_a_max_age_no_cache_reads_as_seconds_refuses_to_build(
    tmp_path: Path, max_age: object
) -> None:
    # Written into every answer as it was: "Cache-Control: public, max-age=-5".
    with pytest.raises(ConfigError, match="max_age"):
        static_files(tmp_path, max_age=max_age)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("route", "param"),
    [("/static/{file:path}", "path"), ("/static", "path"), ("/static/{path:path}", "name")],
)
def test_a_route_without_the_parameter_static_files_reads_refuses_to_build(
    tmp_path: Path, route: str, param: str
) -> None:
    # The file's path is read from that parameter: without it, every request was a 404.
    app = App()
    with pytest.raises(ConfigError, match=f"no {{{param}:path}} parameter"):
        app.add_route(route, static_files(tmp_path, param=param))


def test_gzipped_html_is_served_as_opaque_bytes_not_as_html(client: TestClient) -> None:
    # Named text/html, the browser would render the compressed bytes as a page.
    response = client.get("/s/page.html.gz")
    assert response.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("name", ["logo.svgz", "site.tgz", "data.json.gz"])
def test_compressed_file_is_not_named_by_the_type_inside(name: str) -> None:
    assert media_type_for(name) == "application/octet-stream"


def test_a_type_only_the_systems_mime_types_names_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # /etc/mime.types differs by runtime (Debian's maps .shtml to text/html; Pyodide has
    # none), so a file named by it would be served as two types on two runtimes.
    mimetypes.init()
    system = mimetypes.MimeTypes()
    system.add_type("text/html", ".page")
    monkeypatch.setattr(mimetypes, "_db", system)
    assert media_type_for("index.page") == "application/octet-stream"


def test_a_type_in_pythons_own_table_is_still_named() -> None:
    assert media_type_for("report.csv") == "text/csv; charset=utf-8"


def test_file_carries_a_strong_etag_of_its_content(client: TestClient) -> None:
    first, second = client.get("/s/a.txt"), client.get("/s/sub/b.css")
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 34
    assert tag == client.get("/s/a.txt").headers["etag"] != second.headers["etag"]


@pytest.mark.parametrize("form", ["{tag}", "W/{tag}", '"other", {tag}', "*"])
def test_revalidation_naming_the_current_tag_is_304_without_the_body(
    client: TestClient, form: str
) -> None:
    tag = client.get("/s/a.txt").headers["etag"]
    response = client.get("/s/a.txt", headers={"if-none-match": form.format(tag=tag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == tag
    assert response.headers["cache-control"] == "public, max-age=3600"


def test_revalidation_after_the_file_changed_gets_the_new_content(
    client: TestClient, tmp_path: Path
) -> None:
    tag = client.get("/s/a.txt").headers["etag"]
    (tmp_path / "public" / "a.txt").write_text("changed")
    response = client.get("/s/a.txt", headers={"if-none-match": tag})
    assert response.status_code == 200 and response.text == "changed"
    assert response.headers["etag"] != tag


def test_revalidation_of_a_file_that_is_gone_is_404(client: TestClient) -> None:
    assert client.get("/s/nope.txt", headers={"if-none-match": "*"}).status_code == 404


def test_a_file_behind_authentication_is_private_so_a_shared_cache_never_serves_it_to_others(
    tmp_path: Path,
) -> None:
    """``public`` on an answer to ``Authorization`` lets a shared cache reuse it for any
    request (RFC 9111, 3.5): a guarded file reached clients who sent no credentials."""
    (tmp_path / "payroll.csv").write_text("alice,100000\n")
    guard = BasicAuth(BasicAuthConfig(users={"ops": KeyRing(["a-long-enough-password"])}))
    app = App()
    app.add_route("/private/{path:path}", static_files(tmp_path), middleware=[guard])
    client = TestClient(app)
    credentials = {"authorization": "Basic b3BzOmEtbG9uZy1lbm91Z2gtcGFzc3dvcmQ="}
    served = client.get("/private/payroll.csv", headers=credentials)
    assert served.status_code == 200
    assert served.headers.get_all("cache-control") == ["private, max-age=3600"]
    revalidated = client.get(
        "/private/payroll.csv", headers={**credentials, "if-none-match": served.headers["etag"]}
    )
    assert revalidated.status_code == 304
    assert revalidated.headers.get_all("cache-control") == ["private, max-age=3600"]


def test_a_file_answered_to_no_principal_stays_public(client: TestClient) -> None:
    assert client.get("/s/a.txt").headers.get_all("cache-control") == ["public, max-age=3600"]
