"""The demo's browser chat client (`/docs/chat`, docs/websocket-protocol.md "A browser client") driven in
headless Chromium through Selenium and Debian's chromedriver, against the running demo: opened from the
banner's link, it creates a session, connects and talks; a second tab and `websockets` clients in the
same room see the same message at the same sequence; a bad token shows the 1008 explanation, an
expiring one the 4001 explanation; message text is shown as text, never as markup."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from websockets.sync.client import ClientConnection, connect

from tests.conftest import require_tool
from tests.e2e.conftest import Demo

WAIT = 10.0


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    chromium = require_tool("chromium")
    chromedriver = require_tool("chromedriver")
    options = Options()
    options.binary_location = chromium
    profile: Path = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations land here
    # An explicit driver path: Selenium Manager (which would look for downloads) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _page(demo: Demo) -> str:
    return f"http://127.0.0.1:{demo.http_port}/docs/chat"


def _banner_link(demo: Demo) -> str:
    """The banner's browser chat link, with the player's token in its fragment."""
    demo.banner_token("player")  # waits for the banner
    for line in demo.log_lines():
        found = re.search(r"(http://\S+/docs/chat#token=\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("the demo's banner has no browser chat link")


def _wait(driver: webdriver.Chrome, what: str, check: Any) -> Any:
    return WebDriverWait(driver, WAIT).until(check, message=what)


def _by_id(driver: webdriver.Chrome, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def _state(driver: webdriver.Chrome) -> str:
    return _by_id(driver, "connection").get_attribute("data-state") or ""


def _connect(driver: webdriver.Chrome) -> None:
    _by_id(driver, "connect").click()
    _wait(driver, "the page to connect", lambda d: _state(d) == "open")


def _transcript_line(driver: webdriver.Chrome, text: str) -> WebElement:
    """The transcript's message line whose text part is ``text`` (waits for it)."""

    def find(d: webdriver.Chrome) -> WebElement | None:
        for li in d.find_elements(By.CSS_SELECTOR, "#transcript li.message"):
            if li.find_element(By.CLASS_NAME, "text").text == text:
                return li
        return None

    line: WebElement = _wait(driver, f"{text!r} in the transcript", find)
    return line


def _sequence(line: WebElement) -> int:
    seq = int(line.get_attribute("data-sequence") or 0)
    assert line.find_element(By.CLASS_NAME, "seq").text == f"#{seq}"
    return seq


def _next_message(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=WAIT))
        assert "error" not in frame, frame
        if "message" in frame:
            message: dict[str, Any] = frame["message"]["message"]
            return message


def _sequence_of(ws: ClientConnection, text: str) -> int:
    """The room sequence of the message ``text`` (the chat path delivers the whole room: skip others)."""
    while (message := _next_message(ws))["text"] != text:
        pass
    return int(message["sequence"])


def test_the_page_is_served_offline_under_a_strict_policy_and_linked_from_docs(demo: Demo) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{demo.http_port}", timeout=WAIT) as http:
        assert 'href="/docs/chat"' in http.get("/docs").text
        for path, kind in [("/docs/chat", "text/html"), ("/docs/chat.js", "text/javascript")]:
            resp = http.get(path)
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith(kind)
            csp = resp.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "default-src 'none'" in csp
            assert "https://" not in resp.text  # nothing fetched from elsewhere: works offline
        page = http.get("/docs/chat").text
        assert "<script>" not in page  # no inline script (the policy would refuse it anyway)
        assert "innerHTML" not in http.get("/docs/chat.js").text


def _say(driver: webdriver.Chrome, demo: Demo, text: str) -> int:
    """Send ``text`` from the page; its sequence number once the transcript shows it."""
    demo.secrets.add(text)  # player text never reaches a log line
    _by_id(driver, "message").send_keys(text)
    _by_id(driver, "send").click()
    return _sequence(_transcript_line(driver, text))


def _talk(demo: Demo, ws: ClientConnection, text: str) -> int:
    """Send ``text`` on a `websockets` chat connection; its room sequence."""
    demo.secrets.add(text)
    ws.send(json.dumps({"text": text, "clientMessageId": uuid.uuid4().hex}))
    return _sequence_of(ws, text)


def _disconnect(driver: webdriver.Chrome) -> None:
    _by_id(driver, "disconnect").click()
    _wait(driver, "the close", lambda d: _state(d) == "closed")
    assert "Closed (1000)" in _by_id(driver, "connection").text


def _shown(driver: webdriver.Chrome) -> list[int]:
    """The sequence numbers of the transcript's messages, top to bottom."""
    lines = driver.find_elements(By.CSS_SELECTOR, "#transcript li.message")
    return [int(li.get_attribute("data-sequence") or 0) for li in lines]


def _session_from_the_page(driver: webdriver.Chrome, link: str) -> str:
    """Open ``link`` (a token in its fragment) and create a session for the token's player."""
    driver.get(link)
    _wait(driver, "the token's subject", lambda d: "pl_demo" in _by_id(d, "whoami").text)
    assert "token=" not in driver.current_url  # the fragment is taken out of the address bar
    _by_id(driver, "create").click()
    _wait(driver, "a new session", lambda d: "Connect to start" in _by_id(d, "session-status").text)
    session_id = _by_id(driver, "session-id").get_attribute("value") or ""
    assert session_id
    return session_id


def _session(demo: Demo, token: str) -> str:
    with httpx.Client(base_url=f"http://127.0.0.1:{demo.http_port}", timeout=WAIT) as http:
        made = http.post(
            "/api/v1/sessions",
            json={"playerId": "pl_demo", "worldId": "wd_quiet_harbour"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert made.status_code == 200, made.text
    session_id: str = made.json()["session"]["sessionId"]
    return session_id


def test_chat_in_the_browser_with_a_second_tab_and_other_clients(
    demo: Demo, browser: webdriver.Chrome
) -> None:
    driver = browser
    link = _banner_link(demo)
    session_id = _session_from_the_page(driver, link)
    _connect(driver)
    first_tab = driver.current_window_handle

    # A second tab joins the same session from a link and says hello.
    driver.switch_to.new_window("tab")
    second_tab = driver.current_window_handle
    driver.get(f"{link}&session={session_id}")
    _wait(driver, "the session id from the link", lambda d: _by_id(d, "session-id").get_attribute("value"))
    assert _by_id(driver, "session-id").get_attribute("value") == session_id
    _connect(driver)
    hello = _say(driver, demo, hello_text := f"hello from the second tab {uuid.uuid4().hex[:6]}")

    # Two `websockets` clients: the therapist watching the room (from the hello on, so nothing can be
    # missed while the watch starts) and a staff member talking in it.
    base = f"ws://127.0.0.1:{demo.http_port}/ws/v1/sessions/{session_id}"
    therapist = {"Authorization": f"Bearer {demo.banner_token('therapist')}"}
    staff = {"Authorization": f"Bearer {demo.staff_token}"}
    with (
        connect(f"{base}/room?after_sequence={hello}", additional_headers=therapist) as watcher,
        connect(f"{base}/chat", additional_headers=staff) as talker,
    ):
        # The first tab follows the room: it shows the second tab's hello without having spoken.
        driver.switch_to.window(first_tab)
        assert _sequence(_transcript_line(driver, hello_text)) == hello
        # Markup in a message is shown as text: never parsed, never run.
        text = f"<b>hello</b> <img src=x> from the first tab {uuid.uuid4().hex[:6]}"
        sequence = _say(driver, demo, text)
        assert sequence > hello
        assert not _by_id(driver, "transcript").find_elements(By.CSS_SELECTOR, "b, img")

        seen = _next_message(watcher)  # the room watch sees what the browser sent, at its sequence
        assert (int(seen["sequence"]), seen["text"]) == (sequence, text)
        driver.switch_to.window(second_tab)
        assert _sequence(_transcript_line(driver, text)) == sequence

        reply_text = f"a reply from staff {uuid.uuid4().hex[:6]}"
        reply = _talk(demo, talker, reply_text)
        assert reply > sequence
        for tab in (second_tab, first_tab):
            driver.switch_to.window(tab)
            assert _sequence(_transcript_line(driver, reply_text)) == reply

        # The second tab leaves; what is said meanwhile reaches it when it comes back (the room watch
        # resumes after the last sequence it showed), once.
        driver.switch_to.window(second_tab)
        _disconnect(driver)
        missed = _talk(demo, talker, missed_text := f"while you were away {uuid.uuid4().hex[:6]}")
        _connect(driver)
        assert _sequence(_transcript_line(driver, missed_text)) == missed
        shown = _shown(driver)
        assert shown == sorted(set(shown)), shown  # one line per message, in the room's order
        assert {hello, sequence, reply, missed} <= set(shown)

    violations = [
        e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]
    ]
    assert not violations, violations
    driver.close()  # the second tab
    driver.switch_to.window(first_tab)
    _disconnect(driver)


def test_a_bad_token_shows_the_1008_explanation(demo: Demo, browser: webdriver.Chrome) -> None:
    driver = browser
    session_id = _session(demo, demo.player_token)
    driver.get(f"{_page(demo)}#token=not-a-token&session={session_id}")
    _wait(driver, "the sessions refusal", lambda d: "sign-in needed" in _by_id(d, "session-status").text)
    _by_id(driver, "connect").click()
    _wait(driver, "the close", lambda d: _by_id(d, "connection").get_attribute("data-code") == "1008")
    status = _by_id(driver, "connection").text
    assert "Closed (1008)" in status
    assert "Sign-in needed" in status
    assert _by_id(driver, "message").get_attribute("disabled") is not None
    refusal = driver.find_elements(By.CSS_SELECTOR, "#transcript li.trouble")
    assert refusal
    assert refusal[-1].text.startswith("The gateway said:")


def test_an_expiring_token_shows_the_4001_explanation(demo: Demo, browser: webdriver.Chrome) -> None:
    driver = browser
    token = demo.token("pl_demo", "player", ttl=6)
    driver.get(f"{_page(demo)}#token={token}&session={_session(demo, token)}")
    _wait(driver, "the token's subject", lambda d: "pl_demo" in _by_id(d, "whoami").text)
    _connect(driver)
    _wait(driver, "the close", lambda d: _by_id(d, "connection").get_attribute("data-code") == "4001")
    assert "sign-in expired" in _by_id(driver, "connection").text
