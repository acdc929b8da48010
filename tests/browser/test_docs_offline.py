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
