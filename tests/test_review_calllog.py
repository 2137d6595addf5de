"""Findings over calls known only from a call log (no recording) in the review app: listed with
the other flags (key ``l<id>``, kind calllog), their counted log entries shown, accepted and
rejected through the HTTP API and in real Chromium, stored with a custody event."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest
from calllog_case import LOG_ONLY_NUMBER, build_log_case, log_only

from pipeline.review import ReviewServer
from pipeline.store import CaseStore

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parent / "_output"


class LogApp:
    def __init__(self, root: Path) -> None:
        self.case_dir = root / "case"
        self.store = build_log_case(self.case_dir, root / "INPUT")
        self.server = ReviewServer(self.store)
        self.thread = self.server.start_in_thread()

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Callproof-Token": self.server.token}
        if data:
            headers.update({"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{self.server.port}"})
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read() or b"{}")
        conn.close()
        return response.status, payload

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.store.close()


@pytest.fixture
def app(tmp_path: Path):
    running = LogApp(tmp_path)
    yield running
    running.stop()


def test_log_only_findings_are_listed_and_reviewed_over_http(app: LogApp) -> None:
    status, state = app.call("GET", "/api/state")
    assert status == 200
    logged = [f for f in state["flags"] if f["kind"] == "calllog"]
    assert {f["key"] for f in logged} == {f"l{f.id}" for f in app.store.calllog_flags() if f.log_only}
    assert not any(f["id"] in {r.id for r in app.store.calllog_flags() if not r.log_only} and f["kind"] == "calllog"
                   for f in state["flags"])  # a finding a recording carries is reviewed on the recording
    [unanswered] = [f for f in log_only(app.store, "excess_freq.unanswered") if f.number == LOG_ONLY_NUMBER]
    view = next(f for f in logged if f["finding_id"] == unanswered.id)
    assert view["level"] == "call" and view["status"] == "pending" and "8 通未接来电" in view["text"]
    assert not any("excess_freq" in line for line in view["explanation"])  # rule ids only behind 技术细节
    status, detail = app.call("GET", f"/api/calllog/{unanswered.id}")
    assert status == 200 and len(detail["entries"]) == 8
    assert {e["received_by"] for e in detail["entries"]} == {"母亲"} and detail["entries"][0]["file"] == "calls-20240116.xml"
    assert [e["when"][11:16] for e in detail["entries"]][:2] == ["21:00", "21:10"]  # Beijing time, as the phone showed
    status, flag = app.call("POST", f"/api/logflag/{unanswered.id}", {"status": "accepted", "note": "母亲的手机"})
    assert status == 200 and flag["status"] == "accepted" and flag["note"] == "母亲的手机"
    status, error = app.call("POST", f"/api/logflag/{unanswered.id}", {"category": "INSULT"})
    assert status == 400 and "不能改类别" in error["error"]
    with CaseStore.open(app.case_dir) as fresh:  # committed, with its custody event
        assert fresh.get_calllog_flag(unanswered.id).status == "accepted"
        event = fresh.custody_events()[-1]
        assert event.action == "review" and event.object == f"calllog_flag:{unanswered.key}"
    assert app.call("GET", "/api/calllog/999999")[0] == 404


@pytest.mark.browser
def test_accept_and_reject_a_log_only_finding_in_chromium(app: LogApp) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium): apt-get install -y chromium fonts-noto-cjk")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    [unanswered] = [f for f in log_only(app.store, "excess_freq.unanswered") if f.number == LOG_ONLY_NUMBER]
    night = [f for f in log_only(app.store, "off_hours") if f.number == LOG_ONLY_NUMBER][0]
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app.server.url)
        page.wait_for_selector("li.item")
        page.select_option("#f-kind", "calllog")
        chips = f'#flag-list button.cat[data-id="l{unanswered.id}"]'
        page.wait_for_selector(chips)
        keys = page.eval_on_selector_all("#flag-list button.cat", "items => items.map(i => i.dataset.id)")
        assert keys and all(k.startswith("l") for k in keys)
        page.click(chips)
        page.wait_for_selector("#log-entries .log-entry")
        assert page.locator("#log-entries .log-entry").count() == 8
        assert "calls-20240116.xml" in page.text_content("#log-entries")
        assert page.is_hidden("#player-bar")  # no recording to play
        page.click("#btn-accept")
        deadline = time.monotonic() + 15
        while app.store.get_calllog_flag(unanswered.id).status != "accepted":
            assert time.monotonic() < deadline
            page.wait_for_timeout(50)
        page.click(f'#flag-list button.cat[data-id="l{night.id}"]')
        page.wait_for_selector("#log-entries .log-entry")
        page.keyboard.press("r")
        deadline = time.monotonic() + 15
        while app.store.get_calllog_flag(night.id).status != "rejected":
            assert time.monotonic() < deadline
            page.wait_for_timeout(50)
        OUTPUT.mkdir(exist_ok=True)
        page.uncheck("#f-pending")
        page.click(chips)
        page.wait_for_selector("#log-entries .log-entry")
        page.screenshot(path=str(OUTPUT / "review_calllog_finding.png"))
        browser.close()
    assert not errors
    with CaseStore.open(app.case_dir) as fresh:
        assert fresh.get_calllog_flag(unanswered.id).status == "accepted"
        assert fresh.get_calllog_flag(night.id).status == "rejected"
        actions = [(e.action, e.object) for e in fresh.custody_events()[-2:]]
        assert actions == [("review", f"calllog_flag:{unanswered.key}"), ("review", f"calllog_flag:{night.key}")]
