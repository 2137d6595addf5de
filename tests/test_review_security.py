"""The review app against a hostile page or client (issue 17, item 12), over real HTTP: a POST from
another origin is refused even with the token, a body length that is missing, negative or too
large is refused before any body is read, and an id too large for SQLite is a 404."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_review_app import Running

from pipeline.review.server import MAX_BODY


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = Running(tmp_path_factory.mktemp("review_security"))
    yield running
    running.stop()


def _flag_id(app: Running) -> int:
    return app.store.all_flags()[0].id


def _status(app: Running, flag_id: int) -> str:
    with app.fresh_store() as store:
        return next(f.status for f in store.all_flags() if f.id == flag_id)


def _raw(app: Running, head: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send only ``head`` (request line + headers, no body) and read the answer: a server that
    waited for the announced body would time out here."""
    with socket.create_connection(("127.0.0.1", app.server.port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def _post_head(app: Running, path: str, extra: str) -> str:
    return (f"POST {path}?token={app.server.token} HTTP/1.1\r\nHost: 127.0.0.1:{app.server.port}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n")


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},  # another local app on another port
    {"Referer": "http://evil.example/page.html"},
    {"Origin": "http://evil.example", "Referer": "http://127.0.0.1/"},
])
def test_post_from_another_origin_is_refused_even_with_the_token(app: Running, headers: dict[str, str]) -> None:
    flag_id = _flag_id(app)
    before = _status(app, flag_id)
    target = "rejected" if before != "rejected" else "accepted"
    status, _, body = app.request("POST", f"/api/flag/{flag_id}", body={"status": target}, headers=headers)
    assert status == 403 and "其他网页".encode() in body
    assert _status(app, flag_id) == before


def test_post_from_the_app_itself_is_accepted(app: Running) -> None:
    flag_id = _flag_id(app)
    for origin in (f"http://127.0.0.1:{app.server.port}", f"http://localhost:{app.server.port}"):
        for status_value in ("accepted", "pending"):
            headers = {"Origin": origin, "Referer": f"{origin}/?token=x"}
            status, _, body = app.request("POST", f"/api/flag/{flag_id}", body={"status": status_value}, headers=headers)
            assert status == 200, body
            assert _status(app, flag_id) == status_value


def test_post_without_origin_or_referer_needs_only_the_token(app: Running) -> None:
    flag_id = _flag_id(app)
    status, _, _ = app.request("POST", f"/api/flag/{flag_id}", body={"status": "pending"})
    assert status == 200


@pytest.mark.parametrize(("extra", "expected"), [
    ("Content-Length: -1\r\n", 400),
    ("Content-Length: -99999999\r\n", 400),
    ("Content-Length: abc\r\n", 400),
    ("", 411),
    ("Transfer-Encoding: chunked\r\n", 411),
    (f"Content-Length: {MAX_BODY + 1}\r\n", 413),
    ("Content-Length: 99999999999999999999999\r\n", 413),
])
def test_bad_content_length_is_refused_without_waiting_for_the_body(app: Running, extra: str, expected: int) -> None:
    flag_id = _flag_id(app)
    before = _status(app, flag_id)
    status, _ = _raw(app, _post_head(app, f"/api/flag/{flag_id}", extra))
    assert status == expected
    assert _status(app, flag_id) == before


def test_a_body_within_the_limit_still_works(app: Running) -> None:
    flag_id = _flag_id(app)
    body = json.dumps({"status": "pending", "note": "x" * 1000}).encode()
    head = _post_head(app, f"/api/flag/{flag_id}", f"Content-Length: {len(body)}\r\n")
    with socket.create_connection(("127.0.0.1", app.server.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("path", [
    "/api/flag/9223372036854775808",  # 2**63: one past SQLite's largest integer
    "/api/flag/99999999999999999999999999999999",
    "/api/flag/" + "9" * 5000,  # longer than Python converts by default
    "/api/msgflag/18446744073709551616",
    "/api/segment/0123456789abcdef/9223372036854775808",
])
def test_id_too_large_for_sqlite_is_not_found(app: Running, path: str) -> None:
    status, _, body = app.request("POST", path, body={"status": "accepted"})
    assert status == 404, body


def test_largest_sqlite_id_is_a_plain_not_found(app: Running) -> None:
    status, _, _ = app.request("POST", "/api/flag/9223372036854775807", body={"status": "accepted"})
    assert status == 404


def test_the_server_still_answers_after_the_refusals(app: Running, tmp_path: Path) -> None:
    status, _, body = app.request("GET", "/api/state")
    assert status == 200 and json.loads(body)["flags"]
