"""The review app: HTTP contract (token, Host, Range, JSON actions) and, in real headless Chromium,
what a reviewer does: play a flag, accept/reject with the keyboard, correct a segment, reload."""

from __future__ import annotations

import http.client
import io
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from review_fixtures import SAMPLES, build_case

from pipeline.commands.review_cmd import review_command
from pipeline.render.html_case import call_page_path, write_case_html
from pipeline.review import ReviewServer
from pipeline.store import CaseStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
OUTPUT = Path(__file__).resolve().parent / "_output"
VIEWPORT = {"width": 1366, "height": 768}
FLAG = "#flag-list button.cat"  # one per flag (category); a list item holds every category of one sentence


class Running:
    def __init__(self, case_dir: Path, samples: Path = SAMPLES) -> None:
        self.case_dir = case_dir
        self.store = build_case(case_dir, samples)
        self.server = ReviewServer(self.store)
        self.thread = self.server.start_in_thread()

    def request(self, method: str, path: str, *, token: bool = True, headers: dict[str, str] | None = None,
                body: object = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}token={self.server.token}" if token else path
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data else {}
        all_headers.update(headers or {})
        conn.request(method, url, body=data, headers=all_headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def fresh_store(self) -> CaseStore:
        """A second connection: what is really committed to the case file."""
        return CaseStore.open(self.case_dir)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.store.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = Running(tmp_path_factory.mktemp("review_case"))
    yield running
    running.stop()


def _call(app: Running, suffix: str):
    return next(c for c in app.store.iter_calls() if c.source_path.endswith(suffix))


# ------------------------------------------------------------------ HTTP contract


@pytest.mark.parametrize("path", ["/", "/static/review.js", "/api/state", "/audio/{call}", "/api/call/{call}",
                                  "/favicon.ico"])
def test_requests_without_the_token_are_refused(app: Running, path: str) -> None:
    path = path.format(call=_call(app, ".oga").id)
    status, _, body = app.request("GET", path, token=False)
    assert status == 403 and "令牌".encode() in body
    status, _, _ = app.request("GET", path + "?token=wrong", token=False)
    assert status == 403


def test_post_without_token_changes_nothing(app: Running) -> None:
    flag = app.store.all_flags()[0]
    status, _, _ = app.request("POST", f"/api/flag/{flag.id}", token=False, body={"status": "accepted"})
    assert status == 403
    assert app.store.get_flag(flag.id).status == "pending"


def test_foreign_host_header_is_refused(app: Running) -> None:
    status, _, _ = app.request("GET", "/api/state", headers={"Host": "evil.example:80"})
    assert status == 403


def test_page_and_state_with_token(app: Running) -> None:
    status, headers, body = app.request("GET", "/")
    assert status == 200 and "callproof 复核" in body.decode()
    assert "script-src 'self'" in headers["content-security-policy"]
    status, _, body = app.request("GET", "/api/state")
    state = json.loads(body)
    assert status == 200 and len(state["calls"]) == 4 and len(state["flags"]) == len(app.store.all_flags())
    flag = next(f for f in state["flags"] if f["level"] == "segment")
    assert flag["text"][flag["start_char"]:flag["end_char"]] == flag["match"]
    assert flag["excerpt_start"] == pytest.approx(max(0.0, flag["start_s"] - 3.0))


def test_original_audio_is_served_with_ranges(app: Running) -> None:
    call = _call(app, ".m4a")
    data = Path(call.source_path).read_bytes()
    status, headers, body = app.request("GET", f"/audio/{call.id}")
    assert status == 200 and body == data and headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "audio/mp4"
    status, headers, body = app.request("GET", f"/audio/{call.id}", headers={"Range": "bytes=1000-1999"})
    assert status == 206 and body == data[1000:2000]
    assert headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    status, _, body = app.request("GET", f"/audio/{call.id}", headers={"Range": "bytes=-100"})
    assert status == 206 and body == data[-100:]
    status, _, body = app.request("GET", f"/audio/{call.id}", headers={"Range": f"bytes={len(data) - 10}-"})
    assert status == 206 and body == data[-10:]
    status, headers, _ = app.request("GET", f"/audio/{call.id}", headers={"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}"


def test_amr_gets_a_decoded_wav_on_the_same_timeline(app: Running) -> None:
    call = _call(app, ".amr")
    status, headers, body = app.request("GET", f"/audio/{call.id}/decoded.wav")
    assert status == 200 and body[:4] == b"RIFF" and headers["content-type"] == "audio/wav"
    seconds = (len(body) - 44) / (16000 * 2 * (call.channels or 1))
    assert seconds == pytest.approx(call.duration, abs=0.1)


def test_changed_original_is_not_served(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples)
    running = Running(tmp_path / "case", samples)
    try:
        call = _call(running, ".mp3")
        status, _, _ = running.request("GET", f"/audio/{call.id}", headers={"Range": "bytes=0-99"})
        assert status == 206
        original = Path(call.source_path)
        original.write_bytes(original.read_bytes()[:-1] + b"\0")  # someone edits the recording afterwards
        status, _, body = running.request("GET", f"/audio/{call.id}")
        assert status == 409 and "SHA-256" in body.decode()
    finally:
        running.stop()


def test_actions_are_written_with_custody_events(app: Running) -> None:
    call = _call(app, ".mp3")
    flags = [f for f in app.store.call_flags(call.id) if f.level == "segment"]
    events_before = len(app.store.custody_events())
    status, _, body = app.request("POST", f"/api/flag/{flags[0].id}", body={"status": "accepted", "note": "听过录音"})
    assert status == 200 and json.loads(body)["status"] == "accepted"
    status, _, body = app.request("POST", f"/api/flag/{flags[1].id}", body={"category": "VIOLENCE_THREAT"})
    assert status == 200 and json.loads(body)["category_original"] == flags[1].category
    status, _, body = app.request("POST", f"/api/segment/{call.id}/2", body={"text": "改正后的文字"})
    assert status == 200 and json.loads(body)["corrected_text"] == "改正后的文字"
    status, _, body = app.request("POST", f"/api/role/{call.id}/S1", body={"role": "third_party"})
    assert status == 200 and {s["speaker"]: s["role"] for s in json.loads(body)["call"]["speakers"]}["S1"] == "third_party"
    with app.fresh_store() as store:
        assert store.get_flag(flags[0].id).status == "accepted" and store.get_flag(flags[0].id).note == "听过录音"
        assert store.get_flag(flags[1].id).category == "VIOLENCE_THREAT"
        seg = store.segments(call.id)[2]
        assert seg.corrected_text == "改正后的文字" and seg.text != "改正后的文字" and seg.corrected_by
        events = store.custody_events()[events_before:]
        # changing a role re-flags the call itself: a "flag" event follows the "role" one
        assert [e.action for e in events] == ["review", "review", "correct", "role", "flag"]
        assert events[0].detail["before"]["status"] == "pending" and events[0].detail["after"]["status"] == "accepted"
        assert not store.verify_custody()


def test_decisions_refresh_the_case_pages(tmp_path: Path) -> None:
    running = Running(tmp_path)
    try:
        write_case_html(tmp_path, running.store)
        call = _call(running, ".oga")
        flag = next(f for f in running.store.call_flags(call.id) if f.level == "segment")
        page = call_page_path(tmp_path, call.id)
        assert '<mark class="flag accepted"' not in page.read_text(encoding="utf-8")
        status, _, _ = running.request("POST", f"/api/flag/{flag.id}", body={"status": "accepted"})
        assert status == 200
        assert '<mark class="flag accepted"' in page.read_text(encoding="utf-8")
        status, _, _ = running.request("POST", f"/api/flag/{flag.id}", body={"status": "rejected"})
        assert f'data-flag-id="{flag.id}"' not in page.read_text(encoding="utf-8")
        index = (tmp_path / "index.html").read_text(encoding="utf-8")
        assert re.search(r"<td class=\"num\">1</td></tr>", index)  # one rejected in the category table
    finally:
        running.stop()


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/api/flag/{flag}", {"status": "maybe"}, 400),
    ("/api/flag/{flag}", {"category": "NOT_A_CATEGORY"}, 400),
    ("/api/flag/{flag}", {"note": 5}, 400),
    ("/api/flag/999999", {"status": "accepted"}, 404),
    ("/api/role/{call}/S0", {"role": "boss"}, 400),
    ("/api/segment/{call}/999", {"text": "x"}, 404),
])
def test_bad_actions_are_refused_in_chinese(app: Running, path: str, body: dict, status: int) -> None:
    flag = app.store.all_flags()[-1]
    got, _, payload = app.request("POST", path.format(flag=flag.id, call=flag.call_id), body=body)
    assert got == status
    assert json.loads(payload)["error"]
    assert app.store.get_flag(flag.id).status == flag.status


def test_cli_refuses_a_folder_that_is_not_a_case(tmp_path: Path) -> None:
    result = CliRunner().invoke(review_command, [str(tmp_path), "--no-browser"])
    assert result.exit_code == 2
    assert "不是案件文件夹" in result.output


def test_cli_reports_a_busy_port(tmp_path: Path) -> None:
    CaseStore.open(tmp_path).close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(review_command, [str(tmp_path), "--no-browser", "--port", str(port)])
    assert result.exit_code == 2
    assert f"无法在 127.0.0.1:{port} 启动复核服务" in result.output


def test_cli_serves_until_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CaseStore.open(tmp_path).close()
    started: list[ReviewServer] = []

    def serve_once(self: ReviewServer, poll_interval: float = 0.5) -> None:
        started.append(self)
        status = _get(self, "/api/state")
        assert status == 200
        raise KeyboardInterrupt  # what Ctrl+C does

    monkeypatch.setattr(ReviewServer, "serve_forever", serve_once)
    result = CliRunner().invoke(review_command, [str(tmp_path), "--no-browser"])
    assert result.exit_code == 0, result.output
    assert started[0].url in result.output and "127.0.0.1" in started[0].url
    assert "所有操作均已保存" in result.output


def _get(server: ReviewServer, path: str) -> int:
    def fetch(out: list[int]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", f"{path}?token={server.token}")
        out.append(conn.getresponse().status)
        conn.close()

    out: list[int] = []
    handler = threading.Thread(target=server.handle_request)
    handler.start()
    fetch(out)
    handler.join(timeout=10)
    return out[0]


# ------------------------------------------------------------------ real browser


def _chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture
def browser_page():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium): apt-get install -y chromium fonts-noto-cjk")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = _chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        yield page
        browser.close()


def _wait(page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JS expression until true (wait_for_function would need eval, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def _flag_ids(page) -> list[int]:
    """The flags in list order: one chip per category of each sentence (``li.item`` is one sentence)."""
    return [int(x) for x in page.eval_on_selector_all(FLAG, "items => items.map(i => i.dataset.id)")]


@pytest.mark.browser
def test_reviewer_flow_in_chromium(tmp_path: Path, browser_page) -> None:
    running = Running(tmp_path / "case")
    page = browser_page
    try:
        call = _call(running, ".oga")
        page.goto(running.server.url)
        page.wait_for_selector("li.item")
        page.select_option("#f-call", call.id)
        _wait(page, f"document.querySelectorAll('{FLAG}').length === {len(running.store.call_flags(call.id))}")
        ids = _flag_ids(page)
        first, second, third = (running.store.get_flag(i) for i in ids[1:4])
        machine_text = running.store.segments(call.id)[third.segment_idx].text
        assert first.start_s > 3.0  # so that its excerpt starts after 0

        page.click(f'#flag-list button.cat[data-id="{first.id}"]')
        page.wait_for_selector("#segments .seg.current")
        page.keyboard.press("p")  # play the excerpt: the player jumps to 3 s before the flag
        _wait(page, "document.getElementById('player').currentTime > 1")
        now = page.evaluate("document.getElementById('player').currentTime")
        assert first.start_s - 3.0 - 0.05 <= now <= first.end_s + 3.0
        assert page.evaluate("document.getElementById('player').src").endswith(f"/audio/{call.id}?token={running.server.token}")

        page.keyboard.press("a")  # accept; the next pending flag is selected
        _wait(page, "document.getElementById('count-accepted').textContent.includes('1')")
        page.wait_for_selector(f'#flag-list button.cat.on[data-id="{second.id}"]')
        page.keyboard.press("r")
        _wait(page, "document.getElementById('count-rejected').textContent.includes('1')")
        page.wait_for_selector(f'#flag-list button.cat.on[data-id="{third.id}"]')

        page.keyboard.press("e")  # correct the text of the selected flag's segment
        editor = page.wait_for_selector(f"#seg-{third.segment_idx} .editor textarea")
        editor.fill("我们的人已经出发了，马上到你家楼下。（人工校对）")
        page.keyboard.press("Control+Enter")
        page.wait_for_selector(f"#seg-{third.segment_idx} .corrected")
        page.keyboard.press("n")
        page.keyboard.type("录音 00:20 处可听清")
        _wait(page, "document.getElementById('note-saved').textContent.includes('已保存')")

        with running.fresh_store() as store:  # committed to the case file, not only in the page
            assert store.get_flag(first.id).status == "accepted"
            assert store.get_flag(second.id).status == "rejected"
            assert store.get_flag(third.id).note == "录音 00:20 处可听清"
            seg = store.segments(call.id)[third.segment_idx]
            assert seg.corrected_text == "我们的人已经出发了，马上到你家楼下。（人工校对）"
            assert seg.text == machine_text  # the machine text is kept beside the correction
            assert [e.action for e in store.custody_events()[-4:]] == ["review", "review", "correct", "review"]

        page.reload()  # everything is still there after a reload
        page.wait_for_selector("li.item")
        page.uncheck("#f-pending")
        page.select_option("#f-call", call.id)
        page.wait_for_selector(f'#flag-list button.cat.s-accepted[data-id="{first.id}"]')
        assert page.text_content(f'#flag-list button.cat[data-id="{first.id}"] .st') == "已确认"
        assert page.text_content(f'#flag-list button.cat[data-id="{second.id}"] .st') == "已排除"
        page.click(f'#flag-list button.cat[data-id="{third.id}"]')
        assert "人工校对" in page.text_content(f"#seg-{third.segment_idx} .corrected")
        assert page.input_value("#note") == "录音 00:20 处可听清"

        assert page.evaluate("fetch('api/state').then(r => r.status)") == 403  # no token header
        OUTPUT.mkdir(exist_ok=True)
        page.click(f'#flag-list button.cat[data-id="{second.id}"]')
        page.wait_for_timeout(200)
        page.screenshot(path=str(OUTPUT / "review_page.png"))
    finally:
        running.stop()


@pytest.mark.browser
def test_call_page_plays_from_a_flag_in_chromium(tmp_path: Path, browser_page) -> None:
    store = build_case(tmp_path)
    try:
        write_case_html(tmp_path, store)
        call = next(c for c in store.iter_calls() if c.source_path.endswith(".mp3"))
        flag = next(f for f in store.call_flags(call.id) if f.level == "segment" and f.start_s > 5)
    finally:
        store.close()
    page = browser_page
    page.goto(call_page_path(tmp_path, call.id).as_uri())
    number = page.get_attribute(f'li[data-flag-id="{flag.id}"]', "id").removeprefix("detail-")
    mark = page.locator(f"#flag-{number}")
    mark.hover()  # the explanation appears
    page.wait_for_selector("#tip:not([hidden])")
    assert "法律依据" in page.text_content("#tip")
    mark.click()
    _wait(page, "document.getElementById('player').currentTime > 4")
    assert page.evaluate("document.getElementById('player').currentTime") == pytest.approx(flag.start_s, abs=1.0)
    assert page.evaluate("document.getElementById('audio-error').hidden")  # mp3 plays from file://
    OUTPUT.mkdir(exist_ok=True)
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(OUTPUT / "call_page.png"))
    page.goto((tmp_path / "index.html").as_uri())
    page.screenshot(path=str(OUTPUT / "case_index.png"))
    assert urlsplit(page.url).scheme == "file"


# ------------------------------------------------------------------ messages and screenshots beside calls


class RunningWithMessages(Running):
    """The sample calls plus an SMS backup, a chat export and a screenshot (tests/message_fixtures.py)."""

    def __init__(self, root: Path) -> None:  # noqa: D107 - Running's fields, a case with messages
        from message_fixtures import build_message_case

        self.messages = build_message_case(root)
        self.case_dir = self.messages.case_dir
        self.store = self.messages.store
        self.server = ReviewServer(self.store)
        self.thread = self.server.start_in_thread()


@pytest.fixture(scope="module")
def message_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWithMessages]:
    running = RunningWithMessages(tmp_path_factory.mktemp("review_messages"))
    yield running
    running.stop()


def test_message_flags_are_listed_with_call_flags(message_app: RunningWithMessages) -> None:
    status, _, body = message_app.request("GET", "/api/state")
    state = json.loads(body)
    store = message_app.store
    assert status == 200 and len(state["flags"]) == len(store.all_flags()) + len(store.message_flags())
    keys = [f["key"] for f in state["flags"]]
    assert len(set(keys)) == len(keys)  # call and message flag ids overlap; keys do not
    kinds = {f["kind"] for f in state["flags"]}
    assert kinds == {"call", "sms", "chat", "screenshot"}
    assert {s["kind"] for s in state["sources"]} == {"sms", "chat", "screenshot"}
    blast = next(f for f in state["flags"] if f["kind"] == "sms" and f["category"] == "CONTACTS_BLAST")
    assert blast["key"] == f"m{blast['id']}" and blast["text"][blast["start_char"]:blast["end_char"]] == blast["match"]
    assert blast["message"]["when"] == "2024-01-15 23:40:00" and blast["message"]["direction"] == "received"
    night = next(f for f in state["flags"] if f["kind"] == "sms" and f["category"] == "OFF_HOURS")
    assert night["level"] == "call" and night["start_char"] is None and "23:40" in night["text"]
    status, _, body = message_app.request("GET", f"/api/messages/{message_app.messages.shot_id}")
    detail = json.loads(body)
    assert status == 200 and detail["image"] and detail["boxes"] >= 1
    assert [m["direction"] for m in detail["messages"]] == ["received", "sent"]


def test_accepting_a_message_flag_is_stored_with_custody(message_app: RunningWithMessages) -> None:
    flag = next(f for f in message_app.store.message_flags(source_id=message_app.messages.chat_id) if f.level == "text")
    events_before = len(message_app.store.custody_events())
    status, _, body = message_app.request("POST", f"/api/msgflag/{flag.id}",
                                          body={"status": "accepted", "note": "妈妈收到的聊天记录"})
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "accepted" and answer["key"] == f"m{flag.id}"
    with message_app.fresh_store() as store:
        saved = store.get_message_flag(flag.id)
        assert (saved.status, saved.note) == ("accepted", "妈妈收到的聊天记录") and saved.reviewed_by
        [event] = store.custody_events()[events_before:]
        assert (event.action, event.object) == ("review", f"msgflag:{flag.id}")
        assert event.detail["before"]["status"] == "pending" and event.detail["after"]["status"] == "accepted"
        assert not store.verify_custody()
    status, _, _ = message_app.request("POST", f"/api/msgflag/{flag.id}", body={"status": "maybe"})
    assert status == 400
    status, _, _ = message_app.request("POST", f"/api/msgflag/{flag.id}", token=False, body={"status": "rejected"})
    assert status == 403 and message_app.store.get_message_flag(flag.id).status == "accepted"
    status, _, _ = message_app.request("POST", "/api/msgflag/999999", body={"status": "accepted"})
    assert status == 404


def test_screenshot_images_are_served_read_only_with_the_token(tmp_path: Path) -> None:
    from PIL import Image

    running = RunningWithMessages(tmp_path)
    try:
        shot = running.store.get_message_source(running.messages.shot_id)
        original = Path(shot.source_path)
        before = (original.read_bytes(), original.stat().st_mtime_ns)
        for path in (f"/image/{shot.id}/original", f"/image/{shot.id}/annotated.png"):
            assert running.request("GET", path, token=False)[0] == 403
        status, headers, body = running.request("GET", f"/image/{shot.id}/original")
        assert status == 200 and body == before[0] and headers["content-type"] == "image/png"
        status, headers, annotated = running.request("GET", f"/image/{shot.id}/annotated.png")
        assert status == 200 and headers["content-type"] == "image/png" and annotated[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(annotated)) as copy, Image.open(original) as image:
            assert copy.size == image.size and copy.convert("RGB").tobytes() != image.convert("RGB").tobytes()
        write_case_html(tmp_path / "case", running.store)  # the case page follows decisions made here
        page = tmp_path / "case" / "messages" / shot.id / "messages.html"
        assert (page.parent / "annotated.png").is_file()
        for flag in running.store.message_flags(source_id=shot.id):
            assert running.request("POST", f"/api/msgflag/{flag.id}", body={"status": "rejected"})[0] == 200
        status, _, redrawn = running.request("GET", f"/image/{shot.id}/annotated.png")
        with Image.open(io.BytesIO(redrawn)) as copy, Image.open(original) as image:
            assert copy.convert("RGB").tobytes() == image.convert("RGB").tobytes()  # nothing left to box
        assert not (page.parent / "annotated.png").exists() and "data-message-flag-id" not in page.read_text("utf-8")
        assert (original.read_bytes(), original.stat().st_mtime_ns) == before
        original.write_bytes(before[0] + b"\0")  # changed after intake: no longer served
        assert running.request("GET", f"/image/{shot.id}/original")[0] == 409
    finally:
        running.stop()


@pytest.mark.browser
def test_message_review_in_chromium(tmp_path: Path, browser_page) -> None:
    running = RunningWithMessages(tmp_path)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        store = running.store
        page.goto(running.server.url)
        page.wait_for_selector("li.item")
        page.select_option("#f-kind", "sms")
        sms_flags = store.message_flags(source_id=running.messages.sms_id)
        _wait(page, f"document.querySelectorAll('{FLAG}').length === {len(sms_flags)}")
        keys = page.eval_on_selector_all(FLAG, "items => items.map(i => i.dataset.id)")
        assert all(k.startswith("m") for k in keys)
        blast = next(f for f in sms_flags if f.category == "CONTACTS_BLAST")
        page.click(f'#flag-list button.cat[data-id="m{blast.id}"]')
        page.wait_for_selector("#segments .msg.current mark.sel")  # the message, its flagged words marked
        assert page.text_content("#flag-context mark") == blast.match_text
        assert page.is_hidden("#player-bar")
        page.keyboard.press("a")  # accept with the keyboard
        _wait(page, "document.getElementById('count-accepted').textContent.includes('1')")
        with running.fresh_store() as fresh:
            assert fresh.get_message_flag(blast.id).status == "accepted"
            assert fresh.custody_events()[-1].object == f"msgflag:{blast.id}"

        page.select_option("#f-kind", "screenshot")
        page.wait_for_selector("#shot-image")
        _wait(page, "document.getElementById('shot-image').complete && document.getElementById('shot-image').naturalWidth === 720")
        assert "annotated.png" in page.get_attribute("#shot-image", "src")
        shot_flag = store.message_flags(source_id=running.messages.shot_id)[0]
        page.click(f'#flag-list button.cat[data-id="m{shot_flag.id}"]')
        page.keyboard.press("r")
        _wait(page, "document.getElementById('count-rejected').textContent.includes('1')")
        OUTPUT.mkdir(exist_ok=True)
        page.uncheck("#f-pending")
        page.click(f'#flag-list button.cat[data-id="m{shot_flag.id}"]')
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUTPUT / "review_screenshot_flag.png"))

        page.reload()  # the decisions are in the store, not only in the page
        page.wait_for_selector("li.item")
        page.uncheck("#f-pending")
        page.select_option("#f-kind", "")
        page.wait_for_selector(f'#flag-list button.cat.s-accepted[data-id="m{blast.id}"]')
        assert page.text_content(f'#flag-list button.cat[data-id="m{shot_flag.id}"] .st') == "已排除"
        with running.fresh_store() as fresh:
            assert fresh.get_message_flag(shot_flag.id).status == "rejected"
        assert not errors, errors
    finally:
        running.stop()


# ------------------------------------------------------------------ phone and desktop widths

ARTIFACTS = OUTPUT / "artifacts"  # screenshots for a person to look at (tests/_output is not committed)
BUTTONS = ("#btn-prev", "#btn-next", "#btn-play", "#btn-accept", "#btn-reject", "#btn-reset", "#help-btn")
_LAYOUT_JS = """(ids) => ids.map(id => {
  const el = document.querySelector(id);
  if (!el) return {id, missing: true};
  const box = el.getBoundingClientRect(), style = getComputedStyle(el);
  const text = Array.from(el.childNodes).find(n => n.nodeType === 3 && n.textContent.trim());
  let lines = 0;
  if (text) { const r = document.createRange(); r.selectNodeContents(text);
              lines = new Set(Array.from(r.getClientRects()).map(c => Math.round(c.top))).size; }
  return {id, x: box.left, right: box.right, width: box.width, height: box.height, lines,
          clipped: el.scrollWidth > el.clientWidth + 1,
          visible: style.visibility !== "hidden" && style.display !== "none" && box.width > 0 && box.height > 0};
})"""


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(390, 844), (1400, 900)])
def test_review_page_fits_phone_and_desktop(tmp_path: Path, width: int, height: int) -> None:
    """Buttons visible, inside the screen, one line each (not one character per line), touch-sized
    on a phone and clickable; filters not cut off; on a phone the list, then the flag, then the
    transcript, and the page does not open scrolled away. Screenshots go to tests/_output/artifacts."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium): apt-get install -y chromium fonts-noto-cjk")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    running = Running(tmp_path / "case")
    try:
        with sync_api.sync_playwright() as playwright:
            browser = _chromium(playwright)
            page = browser.new_page(viewport={"width": width, "height": height}, has_touch=width < 700)
            page.goto(running.server.url)
            page.wait_for_selector("#btn-accept")
            page.wait_for_selector("#segments .seg")
            page.wait_for_timeout(300)
            assert page.evaluate("window.scrollY") == 0  # opens at the top, not scrolled onto an empty area
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / f"review_{width}x{height}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            layout = page.evaluate(_LAYOUT_JS, list(BUTTONS))
            for box in layout:
                assert not box.get("missing") and box["visible"], box
                assert box["x"] >= 0 and box["right"] <= width + 0.5, f"{box['id']} is cut off: {box}"
                assert box["lines"] == 1 and not box["clipped"], f"{box['id']} wraps or is clipped: {box}"
                assert box["width"] >= 40, box
                if width < 700:
                    assert box["height"] >= 44 and box["width"] >= 44, f"{box['id']} is not touch-sized: {box}"
            filters = page.evaluate(_LAYOUT_JS, ["#f-pending", "#f-kind", "#f-category", "#f-call", "#f-speaker"])
            for box in filters:
                assert box["visible"] and box["x"] >= 0 and box["right"] <= width + 0.5, f"filter cut off: {box}"
            panes = page.evaluate("""() => ['#list-pane', '#flag-panel', '#call-panel'].map(id => {
                const b = document.querySelector(id).getBoundingClientRect(); return [b.left, b.top, b.width]; })""")
            if width < 700:  # one column: list, then the selected flag, then the transcript
                (_, list_top, list_w), (_, flag_top, flag_w), (_, call_top, _) = panes
                assert list_top < flag_top < call_top
                assert flag_w >= width * 0.9 and list_w >= width * 0.9
            else:
                assert panes[1][0] > panes[0][0] + panes[0][2] - 1  # the flag beside the list

            first = page.get_attribute("li.item.selected", "data-id")
            page.click("#btn-next")  # clickable for real (playwright refuses a covered or off-screen target)
            _wait(page, f"!document.querySelector('#flag-list button.cat.on[data-id=\"{first}\"]')")
            page.click("#btn-prev")
            page.wait_for_selector(f'#flag-list button.cat.on[data-id="{first}"]')
            page.click("#btn-accept")
            _wait(page, "document.getElementById('count-accepted').textContent.includes('1')")
            with running.fresh_store() as store:
                assert store.get_flag(int(first)).status == "accepted"
            if width < 700:  # swipe left on the flag: the next one
                selected = page.evaluate("document.querySelector('#flag-list button.cat.on').dataset.id")
                page.evaluate("""() => { const p = document.getElementById('flag-panel');
                    const t = (x) => new Touch({identifier: 1, target: p, clientX: x, clientY: 300});
                    p.dispatchEvent(new TouchEvent('touchstart', {changedTouches: [t(300)], bubbles: true}));
                    p.dispatchEvent(new TouchEvent('touchend', {changedTouches: [t(120)], bubbles: true})); }""")
                _wait(page, f"document.querySelector('#flag-list button.cat.on').dataset.id !== '{selected}'")
            page.screenshot(path=str(ARTIFACTS / f"review_{width}x{height}_after.png"), full_page=False)
            browser.close()
    finally:
        running.stop()


@pytest.mark.browser
def test_one_sentence_is_one_list_item_with_all_its_categories(tmp_path: Path, browser_page) -> None:
    """抓你 and 坐牢 (two FALSE_LEGAL flags) are one item; IMPERSONATION and FALSE_LEGAL on one
    sentence are one item with two chips; each chip is decided on its own; counts read N 处（M 句）."""
    running = Running(tmp_path / "case")
    page = browser_page
    try:
        call = _call(running, ".oga")
        flags = running.store.call_flags(call.id)
        page.goto(running.server.url)
        page.wait_for_selector("li.item")
        page.select_option("#f-call", call.id)
        _wait(page, f"document.querySelectorAll('{FLAG}').length === {len(flags)}")
        groups = page.eval_on_selector_all("li.item", "items => items.map(i => i.dataset.ids.split(' '))")
        by_match = {f.match_text: str(f.id) for f in flags}
        assert any({by_match["抓你"], by_match["坐牢"]} <= set(g) for g in groups)
        assert any({by_match["我是城东派出所"], by_match["已经立案"]} <= set(g) for g in groups)
        assert len(groups) < len(flags)
        assert f"{len(flags)} 处（{len(groups)} 句）" in page.text_content("#list-head")
        impersonation = by_match["我是城东派出所"]
        page.click(f'{FLAG}[data-id="{impersonation}"]')
        page.wait_for_selector("#flag-siblings button.cat")
        page.click("#btn-reject")  # the decision is per category: the sentence's other category stays pending
        _wait(page, "document.getElementById('count-rejected').textContent.includes('1')")
        with running.fresh_store() as store:
            assert store.get_flag(int(impersonation)).status == "rejected"
            assert store.get_flag(int(by_match["已经立案"])).status == "pending"
        why = page.text_content("#flag-why")
        assert "技术细节" in why
        plain = page.evaluate("""() => { const d = document.getElementById('flag-why').cloneNode(true);
            d.querySelectorAll('details.tech').forEach(t => t.remove()); return d.textContent; }""")
        assert not re.search(r"[A-Z]{3,}_|[a-z]\.[a-z_]+|[A-Z]{2,}-\d|\(\?:", plain), plain  # no rule id, code or regex
    finally:
        running.stop()
