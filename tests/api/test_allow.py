"""OPTIONS answers with every method each path serves, as the OpenAPI schema lists them (litestar#4169)."""

from __future__ import annotations

import re

from litestar.testing import TestClient


def _methods(header: str) -> set[str]:
    return {method.strip() for method in header.split(",")}


def test_options_allow_lists_the_schema_methods_of_every_path(client: TestClient) -> None:
    paths = client.get("/docs/openapi.json").json()["paths"]
    for path, operations in paths.items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        expected = {method.upper() for method in operations} | {"OPTIONS"}
        response = client.options(url)
        assert response.status_code == 204, path
        assert _methods(response.headers["allow"]) == expected, path
        refused = client.request("TRACE", url)
        assert refused.status_code == 405, path
        assert _methods(refused.headers["allow"]) == expected, path
