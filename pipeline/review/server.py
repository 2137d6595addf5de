"""The local review server: stdlib ``ThreadingHTTPServer`` on 127.0.0.1, one random token per run.

Every request must carry the token (``?token=`` in the URL, or the ``X-Callproof-Token`` header)
and a Host of 127.0.0.1/localhost (so another web site cannot reach the case through DNS
rebinding); anything else gets 403. A POST whose ``Origin`` (or, without one, ``Referer``) is not
the app's own address is refused with 403 even with the token (a page elsewhere that learned the
token cannot act for the reviewer); browsers always send ``Origin`` on a POST, a tool without a
browser may send neither. A POST body must announce its length: no ``Content-Length`` is 411, a
malformed or negative one 400, one over ``MAX_BODY`` 413, all answered before any body is read.
A numeric id too large for SQLite's integer is simply not found (404). Routes:

    GET  /                                  the review page
    GET  /static/<file>                     its CSS and JS
    GET  /api/state                         calls, flags, categories, roles
    GET  /api/call/<call_id>                segments and flags of one call
    GET  /audio/<call_id>                   the original recording (Range requests for seeking)
    GET  /audio/<call_id>/decoded.wav       a decoded copy for formats browsers cannot play
    GET  /api/messages/<file_id>            messages and flags of one message file
    GET  /image/<file_id>/original          a screenshot's original bytes (checked against its intake hash)
    GET  /image/<file_id>/annotated.png     a copy with the lines of its flags (not rejected) boxed
    POST /api/flag/<id>                     {status?, note?, category?}
    POST /api/msgflag/<id>                  the same for a message flag
    GET  /api/calllog/<id>                  a finding over the call log and the log entries it counts
    POST /api/logflag/<id>                  {status?, note?} for that finding
    POST /api/segment/<call_id>/<idx>       {text}
    POST /api/role/<call_id>/<speaker>      {role}

A POST answers only after the store committed the change (with its custody event) and, when the
case's HTML was written, after the call's (or message file's) page and the index were re-rendered
to match. Images are only read: the original is never written, the annotated copy lives in memory.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.errors import InputError
from pipeline.messages.ocr import annotated_png, image_format
from pipeline.render.html_case import call_page_path, write_call_html, write_index_html, write_message_html
from pipeline.render.html_index_messages import message_page_path
from pipeline.review import api
from pipeline.review.media import MediaCache, OriginalChanged, RangeNotSatisfiable, content_type, parse_range
from pipeline.store import CaseStore, NotFoundError

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}
TOKEN_HEADER = "X-Callproof-Token"
MAX_BODY = 1 << 20
MAX_ROW_ID = (1 << 63) - 1  # SQLite's INTEGER
CHUNK = 1 << 16
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "heic": "image/heic"}
MAX_ANNOTATED = 8  # annotated screenshots kept in memory
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
       "media-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def row_id(text: str) -> int:
    """A numeric id from the URL; one SQLite could not hold is not found (never a 500)."""
    if len(text) > 19 or int(text) > MAX_ROW_ID:
        raise NotFoundError(f"{text[:24]}…" if len(text) > 24 else text)
    return int(text)


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: CaseStore, port: int = 0, token: str | None = None) -> None:
        self.store = store
        self.token = token or secrets.token_urlsafe(24)
        self.media = MediaCache()
        self._pages_lock = threading.Lock()
        self._annotated: dict[tuple[str, str], bytes] = {}
        super().__init__(("127.0.0.1", port), ReviewHandler)
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def refresh_pages(self, call_id: str) -> None:
        """Keep the case's HTML (if it was written) in step with the decision just saved."""
        if not call_page_path(self.store.case_dir, call_id).is_file():
            return
        try:
            with self._pages_lock:  # two clicks at once must not write the same temp file together
                write_call_html(self.store.case_dir, self.store, self.store.get_call(call_id))
                write_index_html(self.store.case_dir, self.store)
        except Exception as exc:  # the decision is saved either way; the pages catch up on the next run
            print(f"无法更新案件网页 (could not refresh the case HTML): {exc!r}", file=sys.stderr)

    def refresh_message_pages(self, source_id: str) -> None:
        """The message file's page (and its annotated copy) and the index, when they were written."""
        if not message_page_path(self.store.case_dir, source_id).is_file():
            return
        try:
            with self._pages_lock:
                write_message_html(self.store.case_dir, self.store, source_id)
                write_index_html(self.store.case_dir, self.store)
        except Exception as exc:  # the decision is saved either way; the pages catch up on the next run
            print(f"无法更新案件网页 (could not refresh the case HTML): {exc!r}", file=sys.stderr)

    def annotated(self, source_id: str) -> bytes:
        """PNG of the screenshot with its flags' lines boxed, drawn from the verified original."""
        source = self.store.get_message_source(source_id)
        boxes = api.annotation_boxes(self.store.message_flags(source_id=source_id))
        key = (source.sha256, repr(boxes))
        with self._pages_lock:
            if key in self._annotated:
                return self._annotated[key]
        path = self.media.original(source.source_path, source.sha256)
        try:
            data = annotated_png(path, boxes)
        except InputError as exc:
            raise OriginalChanged(f"无法读取截图：{exc.reason_zh}") from exc
        with self._pages_lock:
            while len(self._annotated) >= MAX_ANNOTATED:
                self._annotated.pop(next(iter(self._annotated)))
            self._annotated[key] = data
        return data

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="callproof-review", daemon=True)
        thread.start()
        return thread


class ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "callproof-review"
    protocol_version = "HTTP/1.1"

    # ------------------------------------------------------------ plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return  # quiet: the terminal shows only the URL and errors

    def _allowed(self) -> bool:
        query = parse_qs(urlsplit(self.path).query)
        given = self.headers.get(TOKEN_HEADER) or (query.get("token") or [""])[0]
        host_ok = self.headers.get("Host", "") in self.server.hosts
        return host_ok and secrets.compare_digest(given.encode(), self.server.token.encode())

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None,
              head_only: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _own_origin(self) -> bool:
        """False when the request names a page that is not this app (Origin, else Referer)."""
        own = {f"http://{host}" for host in self.server.hosts}
        origin = self.headers.get("Origin")
        if origin is not None:
            return origin in own
        referer = self.headers.get("Referer")
        if referer is not None:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}" in own
        return True

    def _post_refusal(self) -> tuple[int, str] | None:
        """Why a POST is refused from its headers alone (status, message), or None."""
        if not self._own_origin():
            return HTTPStatus.FORBIDDEN, "403 禁止访问：请求来自其他网页，已拒绝。请在复核页面内操作。"
        if self.headers.get("Transfer-Encoding"):
            return HTTPStatus.LENGTH_REQUIRED, "请求必须带 Content-Length（不支持分块传输）"
        declared = self.headers.get("Content-Length")
        if declared is None:
            return HTTPStatus.LENGTH_REQUIRED, "请求必须带 Content-Length"
        if not declared.strip().isdigit():
            return HTTPStatus.BAD_REQUEST, "Content-Length 无效"
        if int(declared) > MAX_BODY:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "请求内容过大"
        return None

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)  # checked by _post_refusal
        if length > MAX_BODY:
            raise api.BadRequest("请求内容过大")
        data = json.loads(self.rfile.read(length) or b"{}")
        if not isinstance(data, dict):
            raise api.BadRequest("请求内容应为 JSON 对象")
        return data

    def _dispatch(self, routes: list[tuple[str, Callable[..., None]]], head_only: bool = False) -> None:
        if not self._allowed():
            self.close_connection = True
            self._send(HTTPStatus.FORBIDDEN, "403 禁止访问：缺少或错误的会话令牌。请使用启动时显示的完整网址。".encode(),
                       "text/plain; charset=utf-8")
            return
        refusal = self._post_refusal() if self.command == "POST" else None
        if refusal is not None:  # the body is never read; the connection closes after the answer
            self.close_connection = True
            self._send(refusal[0], refusal[1].encode(), "text/plain; charset=utf-8")
            return
        path = urlsplit(self.path).path
        for pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match is None:
                continue
            try:
                handler(*(unquote(g) for g in match.groups()), head_only=head_only)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except NotFoundError as exc:
                self._error(HTTPStatus.NOT_FOUND, f"找不到：{exc}")
            except (api.BadRequest, json.JSONDecodeError, ValueError) as exc:
                self._error(HTTPStatus.BAD_REQUEST, f"无法保存：{exc}")
            except OriginalChanged as exc:
                self._error(HTTPStatus.CONFLICT, str(exc))
            except Exception as exc:  # one bad request must not stop the server; say what happened
                print(f"复核服务出错 (review server error): {exc!r}", file=sys.stderr)
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"服务器出错：{exc}")
            return
        self._error(HTTPStatus.NOT_FOUND, "找不到该页面")

    # ------------------------------------------------------------ verbs

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch(self._get_routes())

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(self._get_routes(), head_only=True)

    def do_POST(self) -> None:  # noqa: N802
        self.close_connection = True  # a refused request's body is never read: start afresh
        self._dispatch([
            (r"/api/flag/(\d+)", self._post_flag),
            (r"/api/msgflag/(\d+)", self._post_message_flag),
            (r"/api/logflag/(\d+)", self._post_calllog_flag),
            (r"/api/segment/([0-9a-f]+)/(\d+)", self._post_segment),
            (r"/api/role/([0-9a-f]+)/([^/]+)", self._post_role),
        ])

    def _get_routes(self) -> list[tuple[str, Callable[..., None]]]:
        return [
            (r"/(?:index\.html)?", self._page),
            (r"/static/([\w.-]+)", self._static),
            (r"/api/state", self._state),
            (r"/api/call/([0-9a-f]+)", self._call),
            (r"/audio/([0-9a-f]+)", self._original),
            (r"/audio/([0-9a-f]+)/decoded\.wav", self._decoded),
            (r"/api/messages/([0-9a-f]+)", self._messages),
            (r"/api/calllog/(\d+)", self._calllog),
            (r"/image/([0-9a-f]+)/original", self._image_original),
            (r"/image/([0-9a-f]+)/annotated\.png", self._image_annotated),
        ]

    # ------------------------------------------------------------ handlers

    def _page(self, head_only: bool = False) -> None:
        html = (STATIC / "review.html").read_text(encoding="utf-8").replace("__TOKEN__", self.server.token)
        self._send(HTTPStatus.OK, html.encode("utf-8"), "text/html; charset=utf-8",
                   {"Content-Security-Policy": CSP}, head_only)

    def _static(self, name: str, head_only: bool = False) -> None:
        if name not in STATIC_FILES:
            raise NotFoundError(name)
        self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), STATIC_FILES[name], head_only=head_only)

    def _state(self, head_only: bool = False) -> None:
        self._json(HTTPStatus.OK, api.state(self.server.store))

    def _call(self, call_id: str, head_only: bool = False) -> None:
        self._json(HTTPStatus.OK, api.call_detail(self.server.store, call_id))

    def _messages(self, source_id: str, head_only: bool = False) -> None:
        self._json(HTTPStatus.OK, api.message_detail(self.server.store, source_id))

    def _calllog(self, flag_id: str, head_only: bool = False) -> None:
        self._json(HTTPStatus.OK, api.calllog_detail(self.server.store, row_id(flag_id)))

    def _image_original(self, source_id: str, head_only: bool = False) -> None:
        source = self.server.store.get_message_source(source_id)
        path = self.server.media.original(source.source_path, source.sha256)
        with open(path, "rb") as handle:  # read-only: originals are never written
            data = handle.read()
        kind = image_format(data[:16])
        if kind is None:
            raise NotFoundError(f"{source_id} 不是图片")
        self._send(HTTPStatus.OK, data, IMAGE_TYPES[kind], head_only=head_only)

    def _image_annotated(self, source_id: str, head_only: bool = False) -> None:
        self._send(HTTPStatus.OK, self.server.annotated(source_id), "image/png", head_only=head_only)

    def _original(self, call_id: str, head_only: bool = False) -> None:
        call = self.server.store.get_call(call_id)
        path = self.server.media.original(call.source_path, call.sha256)
        size = path.stat().st_size
        try:
            span = parse_range(self.headers.get("Range"), size)
        except RangeNotSatisfiable:
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain",
                       {"Content-Range": f"bytes */{size}"})
            return
        first, last = span if span else (0, size - 1)
        length = max(0, last - first + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        self.send_header("Content-Type", content_type(path))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if head_only:
            return
        with open(path, "rb") as handle:  # read-only: originals are never written
            handle.seek(first)
            remaining = length
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def _decoded(self, call_id: str, head_only: bool = False) -> None:
        call = self.server.store.get_call(call_id)
        data = self.server.media.decoded_wav(call.source_path, call.sha256)
        try:
            span = parse_range(self.headers.get("Range"), len(data))
        except RangeNotSatisfiable:
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain",
                       {"Content-Range": f"bytes */{len(data)}"})
            return
        first, last = span if span else (0, len(data) - 1)
        extra = {"Accept-Ranges": "bytes"}
        if span:
            extra["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        self._send(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK, data[first:last + 1], "audio/wav",
                   extra, head_only)

    def _post_flag(self, flag_id: str, head_only: bool = False) -> None:
        flag = api.review_flag(self.server.store, row_id(flag_id), self._body())
        self.server.refresh_pages(flag["call_id"])
        self._json(HTTPStatus.OK, flag)

    def _post_message_flag(self, flag_id: str, head_only: bool = False) -> None:
        flag = api.review_message_flag(self.server.store, row_id(flag_id), self._body())
        self.server.refresh_message_pages(flag["source_id"])
        self._json(HTTPStatus.OK, flag)

    def _post_calllog_flag(self, flag_id: str, head_only: bool = False) -> None:
        self._json(HTTPStatus.OK, api.review_calllog_flag(self.server.store, row_id(flag_id), self._body()))

    def _post_segment(self, call_id: str, idx: str, head_only: bool = False) -> None:
        segment = api.correct_segment(self.server.store, call_id, row_id(idx), self._body())
        self.server.refresh_pages(call_id)
        self._json(HTTPStatus.OK, segment)

    def _post_role(self, call_id: str, speaker: str, head_only: bool = False) -> None:
        detail = api.set_role(self.server.store, call_id, speaker, self._body())
        self.server.refresh_pages(call_id)
        self._json(HTTPStatus.OK, detail)
