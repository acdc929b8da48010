"""What may reach a log line: no control characters, and no visitor session id in clear.

* A value that came from a request (a path with `%0d%0a`, a header, an exception message quoting input) could
  otherwise start a forged line, or move the cursor of the terminal reading the log. Every C0 and C1 control
  character and the Unicode line/paragraph separators are written as escapes (`\\n`, `\\x1b`, `\\u2028`).
* A visitor's `session_id` is what unlocks the public history route: in paths of the chat, history and
  visitor routes, in `session_id=` parameters and in quoted `session_id 'x'` mentions it is replaced by
  `s:` and the first 8 hex digits of its SHA-256 — the same visitor gives the same token in every line, so
  lines can still be correlated, but the token does not open anything.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# json.dumps escapes C0 controls itself; these it leaves as they are, and line-splitting tools break on them.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")

_VALUE = r"[^/?#&\s\"'<>;,)]+"
# The `(?!\{)` keeps route templates (`{session_id}`) readable.
_SESSION_IN_PATH = re.compile(
    rf"(/api/v1/(?:groq/)?chat/(?:stream|history)/|/api/v1/visitors/)(?!\{{)({_VALUE})"
)
_SESSION_PARAMETER = re.compile(rf"(\bsession_id=)({_VALUE})")
_SESSION_QUOTED = re.compile(r"(\bsession_id['\"]?[\s=:]*)(['\"])([^'\"\s]{1,400})\2")


def session_token(session_id: str) -> str:
    """A short stable stand-in for a session id in logs (percent-encoding undone first)."""
    return "s:" + hashlib.sha256(unquote(session_id).encode()).hexdigest()[:8]


def redact_sessions(text: str) -> str:
    text = _SESSION_IN_PATH.sub(lambda m: m[1] + session_token(m[2]), text)
    text = _SESSION_PARAMETER.sub(lambda m: m[1] + session_token(m[2]), text)
    return _SESSION_QUOTED.sub(lambda m: f"{m[1]}{m[2]}{session_token(m[3])}{m[2]}", text)


def _escape(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def one_line(text: str) -> str:
    """`text` with session ids hashed and every control character escaped: it cannot break the line."""
    return _CONTROLS.sub(lambda m: _escape(m[0]), redact_sessions(text))


def json_safe(dumped: str) -> str:
    """A `json.dumps` result with the characters it leaves raw that tools may split lines on escaped."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", dumped)
