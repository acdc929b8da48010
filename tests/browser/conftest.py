"""Fixtures for the widget's browser tests (headless Debian Chromium driven by Playwright, sync API).

The server under test is pluggable:

* default: :mod:`tests.browser.widget_stub_server` is started on a free port (a stand-in, see its docstring);
* ``CENTRALITA_WIDGET_SERVER_URL=http://127.0.0.1:8000`` (or re-point the ``widget_server_url`` fixture at
  a fixture that starts the real ``centralita serve``): the tests run against that server, and the ones
  that need the stub's failure switches (``widget_stub``) are skipped, and so are those that need answers
  (``answering_server``) when the server cannot answer a turn (e.g. no ``GROQ_API_KEY``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.browser.widget_stub_server import RunningStub, StubServer

CHROMIUM = os.environ.get("CENTRALITA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
REPO = Path(__file__).resolve().parents[2]

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - playwright is a test extra
    sync_playwright = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if sync_playwright is None:
        reason = "playwright is not installed (pip install -e '.[test]')"
    elif not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set CENTRALITA_CHROMIUM)"
    if reason:
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def _stub() -> Iterator[RunningStub | None]:
    if os.environ.get("CENTRALITA_WIDGET_SERVER_URL"):
        yield None
        return
    with RunningStub() as running:
        yield running


@pytest.fixture(scope="session")
def widget_server_url(_stub: RunningStub | None) -> str:
    """Base URL of the server under test (no trailing slash). Re-point this at the real server."""
    external = os.environ.get("CENTRALITA_WIDGET_SERVER_URL")
    if external:
        return external.rstrip("/")
    assert _stub is not None
    return _stub.url


@pytest.fixture(scope="session")
def answering_server(widget_server_url: str, _stub: RunningStub | None) -> str:
    """The server under test, once a probe turn shows it answers (a real server needs a working LLM)."""
    if _stub is not None:
        return widget_server_url
    ws_url = widget_server_url.replace("http", "ws", 1)
    url = f"{ws_url}/api/v1/chat/stream/widget-probe-{secrets.token_hex(6)}/1"
    try:
        with connect(url, open_timeout=10) as ws:
            ws.send(json.dumps({"message": "ping", "origin": "web"}))
            while True:
                frame = json.loads(ws.recv(timeout=60))
                if frame.get("type") in ("start", "token", "end"):
                    return widget_server_url
                if frame.get("type") == "error":
                    pytest.skip(
                        f"the server under test does not answer turns: {frame.get('code')}: {frame.get('detail')}"
                    )
    except (OSError, TimeoutError, ValueError) as exc:
        pytest.skip(f"cannot run a turn on the server under test: {exc!r}")
    return widget_server_url


@pytest.fixture
def widget_stub(_stub: RunningStub | None) -> Iterator[StubServer]:
    """The stub's controls (failure switches, received messages); skips against a real server."""
    if _stub is None:
        pytest.skip("needs the stub server's failure switches; not available against a real server")
    _stub.app.reset()
    yield _stub.app
    _stub.app.reset()


@pytest.fixture(scope="module")  # a session-long sync Playwright keeps an event loop running in the main thread, breaking later asyncio tests
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="es-ES")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    p = context.new_page()
    # Record CSP violations and page errors so tests can assert the widget runs under a strict policy.
    p.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.page_errors = errors  # type: ignore[attr-defined]
    p.set_default_timeout(10_000)
    yield p
    p.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    d = REPO / "docs" / "img"
    d.mkdir(parents=True, exist_ok=True)
    return d
