"""`/docs` renders the Swagger UI from the server's own assets, with every non-local request cut."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

pytestmark = pytest.mark.browser

LOCAL = {"127.0.0.1", "localhost"}


def test_docs_render_the_operations_without_internet(page: Page, widget_server_url: str) -> None:
    blocked: list[str] = []
    errors: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL or route.request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.route("**/*", only_local)
    page.on("console", console)
    page.goto(f"{widget_server_url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/agents").first).to_be_visible()
    assert blocked == [] and errors == [] and page.page_errors == []  # type: ignore[attr-defined]


def test_the_demo_page_asks_for_no_missing_favicon(page: Page, widget_server_url: str) -> None:
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{widget_server_url}/widget/")
    expect(page.get_by_role("button", name="Abrir el chat")).to_be_visible()
    page.wait_for_timeout(500)  # the browser asks for a favicon once the page has loaded
    assert failed == [] and errors == []
    assert page.evaluate("window.__cspViolations") == []
