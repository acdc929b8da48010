"""Fixtures for the widget's browser tests (headless Debian Chromium driven by Playwright, sync API).

Servers under test:

* ``widget_server_url`` (module-scoped): the real ``centralita serve`` (``centralita`` fixture: STORAGE=memory
  unless the module sets ``SERVER_ENV``, a FakeLLMServer streaming slowly enough to watch, knowledge
  documents for agent 1 so answers carry sources), reached through a TCP proxy the tests can sever; or, with
  ``CENTRALITA_WIDGET_SERVER_URL=http://127.0.0.1:8000``, a server you started yourself (tests that need
  to cut or restart it are then skipped);
* ``widget_stub`` / ``stub_url``: :mod:`tests.browser.widget_stub_server`, a stand-in kept only for the
  failures the real server cannot be made to produce on demand (a drop at an exact frame, a 2-second
  ``retry_after``, hostile sources).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.servers import HostPages, RealServer
from tests.browser.widget_stub_server import RunningStub, StubServer
from tests.fakes.fake_llm import FakeLLMServer

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
        skipped = [item for item in items if "browser" in item.keywords]
        for item in skipped:
            item.add_marker(pytest.mark.skip(reason=reason))
        if skipped:
            config.stash[_SKIPPED] = f"{len(skipped)} browser tests skipped: {reason}"


_SKIPPED = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Says why the browser tests did not run, without `-rs`."""
    if _SKIPPED in config.stash:
        terminalreporter.write_line(config.stash[_SKIPPED], yellow=True)


# Agent 1's knowledge in the real server: the sources the widget lists under an answer.
DOCUMENTS = [
    (
        "Horarios de atención",
        "Atención al cliente de Aurora Energía: por teléfono en el 900 000 000, de lunes a viernes de 9:00 a "
        "20:00. Por chat, las 24 horas. El horario de atención de las oficinas es de 9:00 a 14:00.",
    ),
    (
        "Guía de averías",
        "Las averías se atienden todos los días, a cualquier hora, en el 900 000 111. Ten a mano tu número de "
        "contrato y el código CUPS de tu factura.",
    ),
    (
        "Tarifas 2026",
        "Tarifa Estable: 0,129 €/kWh todo el día. Tarifa Noche: 0,098 €/kWh de 22:00 a 08:00 y fines de "
        "semana. El cambio de tarifa se pide desde el área de cliente o por chat, no tiene coste y se aplica "
        "en la siguiente factura.",
    ),
]
LLM_KEY = "browser-test-key"


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLMServer]:
    """A fake Groq streaming 40-token answers at ~60 tokens/s: each answer takes ~0.8 s, in many pieces."""
    with FakeLLMServer(
        api_keys=LLM_KEY, answer_tokens=40, tokens_per_second=60, ttft_ms=150
    ).run_in_thread() as server:
        yield server


@pytest.fixture(scope="session")
def host_pages() -> Iterator[HostPages]:
    """A company's site on another origin, embedding the widget (listed in the servers' CORS_ORIGINS)."""
    pages = HostPages()
    yield pages
    pages.close()


@pytest.fixture(scope="module")
def centralita(
    request: pytest.FixtureRequest,
    fake_llm: FakeLLMServer,
    host_pages: HostPages,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RealServer]:
    """The real server behind a severable proxy, one per test module (``SERVER_ENV`` in the module adds env)."""
    if os.environ.get("CENTRALITA_WIDGET_SERVER_URL"):
        pytest.skip("needs a server the tests start themselves (CENTRALITA_WIDGET_SERVER_URL is set)")
    cwd = tmp_path_factory.mktemp("centralita")
    env = {
        "STORAGE": "memory",
        "GROQ_API_KEY": LLM_KEY,
        "GROQ_BASE_URL": str(fake_llm.base_url),
        "CORS_ORIGINS": host_pages.origin,
    }
    env.update(getattr(request.module, "SERVER_ENV", {}))
    env.setdefault("DATA_DIR", str(cwd / "data"))
    server = RealServer(env, cwd)
    try:
        server.start()
        for title, text in DOCUMENTS:
            server.add_document(1, title, text)
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def widget_server_url(request: pytest.FixtureRequest) -> str:
    """Base URL of the real server under test (no trailing slash), as the browser reaches it."""
    external = os.environ.get("CENTRALITA_WIDGET_SERVER_URL")
    if external:
        return external.rstrip("/")
    server: RealServer = request.getfixturevalue("centralita")
    return server.url


@pytest.fixture(scope="session")
def _stub() -> Iterator[RunningStub]:
    with RunningStub() as running:
        yield running


@pytest.fixture
def widget_stub(_stub: RunningStub) -> Iterator[StubServer]:
    """The stand-in's controls (failure switches, received messages)."""
    _stub.app.reset()
    yield _stub.app
    _stub.app.reset()


@pytest.fixture
def stub_url(_stub: RunningStub) -> str:
    return _stub.url


@pytest.fixture(
    scope="module"
)  # a session-long sync Playwright keeps an event loop running in the main thread, breaking later asyncio tests
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
