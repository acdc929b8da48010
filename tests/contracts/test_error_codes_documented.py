"""Every error code the server can emit is listed in docs/api.md (issue 12, item 8: `bad_request` was not).

Codes come from the domain errors, the HTTP status codes of entrypoints/http/errors.py, and the literal codes
the HTTP and WebSocket entrypoints send.
"""

from __future__ import annotations

import re
from pathlib import Path

import domain.errors
from entrypoints.http import errors

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r'(?:error_response\(\s*\d+,\s*|_send_error\(\s*|_refuse(?:_counted)?\(\s*)"([a-z_]+)"')


def _domain_codes() -> set[str]:
    found, pending = set(), [domain.errors.CentralitaError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in vars(cls) and cls is not domain.errors.CentralitaError:
            found.add(cls.code)
    return found


def _literal_codes() -> set[str]:
    sources = (ROOT / "entrypoints" / "http").glob("*.py")
    return {code for path in sources for code in LITERAL.findall(path.read_text())}


def test_every_error_code_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", (ROOT / "docs" / "api.md").read_text()))
    emitted = _domain_codes() | set(errors._HTTP_CODES.values()) | _literal_codes()
    assert {"bad_request", "malformed_json", "turn_in_progress"} <= emitted  # the collection works
    assert emitted - documented == set()
