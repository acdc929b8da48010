"""The rules a client's text must follow, as data: the domain validators check them, and the HTTP schema
(entrypoints/http/schemas.py, openapi_errors.py) is built from the same values, so the OpenAPI document says
exactly what the server accepts. Integer bounds (ids, paging) are in domain/bounds.py.

Character classes are written as regex class bodies with `\\xNN`/`\\uNNNN` escapes only, which Python's `re`
and the schema's ECMA dialect read alike (no `\\s`, `\\w`: the two dialects disagree on them).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- characters -----------------------------------------------------------------------------------------

# C0/C1 control characters except tab, line feed and carriage return; DEL.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Lone UTF-16 surrogates: no UTF-8 text can hold them and no store can write them. Not expressible in a schema
# regex (Rust, ECMA `u`), so the domain refuses them and the schema does not mention them.
LONE_SURROGATES = r"\ud800-\udfff"
# What Python's str.strip() removes, spelled out: ECMA's `\s` also holds U+FEFF, which Python keeps.
WHITESPACE = r"\t\n\v\f\r\x1c-\x1f\x85 \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# One character that makes a text non-blank: neither whitespace nor a control character (Python counts
# \x1c-\x1f and \x85 as whitespace, the domain strips them). Searched, not anchored.
NON_BLANK = rf"[^{WHITESPACE}\x00-\x1f\x7f-\x9f]"


# --- identifiers ----------------------------------------------------------------------------------------

IDENTIFIER_CHARACTERS = "A-Za-z0-9._:-"
IDENTIFIER_CHARACTERS_TEXT = "letters, digits, '.', '_', ':' or '-'"
MAX_SESSION_ID_CHARS = 128
SESSION_ID_PATTERN = f"[{IDENTIFIER_CHARACTERS}]{{1,{MAX_SESSION_ID_CHARS}}}"  # whole value (fullmatch)
DEFAULT_ORIGIN = "web"
MAX_ORIGIN_CHARS = 32
ORIGIN_PATTERN = f"[{IDENTIFIER_CHARACTERS}]{{1,{MAX_ORIGIN_CHARS}}}"  # whole value; empty means the default


# --- visitor messages -----------------------------------------------------------------------------------

# The default of the MAX_MESSAGE_CHARS setting; the schema states the configured value.
DEFAULT_MAX_MESSAGE_CHARS = 4000


# --- model names ---

# A model name: no control characters, one non-blank character. `provider:name` names a provider; a name
# without a colon is on the configured provider. Which providers this server can build is known only at run
# time (the adapter says), so the schema's pattern naming them is made when the app is built.
MODEL_PATTERN = f"^[^{CONTROL_CHARACTERS}]*{NON_BLANK}[^{CONTROL_CHARACTERS}]*$"


def model_pattern(providers: tuple[str, ...]) -> str:
    """MODEL_PATTERN narrowed to these `provider:` prefixes, each followed by a non-blank name (a bare name has
    no colon)."""
    control = CONTROL_CHARACTERS
    bare = f"[^:{control}]*[^:{control}{WHITESPACE}][^:{control}]*"
    prefixed = f"(?:{'|'.join(providers)}):[^{control}]*{NON_BLANK}[^{control}]*"
    return f"^(?:{prefixed}|{bare})$"


# --- agents ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Length:
    """A text field's length bounds, in characters; `not_blank` also asks for one NON_BLANK character."""

    min_chars: int
    max_chars: int
    not_blank: bool = False


@dataclass(frozen=True, slots=True)
class Range:
    """A number field's inclusive bounds."""

    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class IntRange:
    """An integer field's inclusive bounds."""

    low: int
    high: int

    def holds(self, value: int) -> bool:
        return self.low <= value <= self.high


AGENT_NAME = Length(1, 200, not_blank=True)
AGENT_SYSTEM_PROMPT = Length(1, 50_000, not_blank=True)
AGENT_LANGUAGE = Length(2, 16)
AGENT_GREETING = Length(0, 2000)
AGENT_TEMPERATURE = Range(0.0, 2.0)
AGENT_MAX_TOKENS = IntRange(1, 200_000)
DEFAULT_K_DOCUMENTS = 4
AGENT_K_DOCUMENTS = IntRange(0, 50)
AGENT_MIN_SCORE = Range(-1.0, 1.0)


def _number(value: float) -> str:
    return f"{value:g}"


# Each agent field's rule as a sentence, for the schema's descriptions and the 422 `invalid_agent` details.
AGENT_FIELD_RULES = {
    "name": f"{AGENT_NAME.min_chars} to {AGENT_NAME.max_chars} characters, not blank.",
    "system_prompt": f"Not blank, at most {AGENT_SYSTEM_PROMPT.max_chars} characters.",
    "language": (
        f"A language tag such as 'es' or 'en' ({AGENT_LANGUAGE.min_chars} to {AGENT_LANGUAGE.max_chars})."
    ),
    "model": "Not blank, no control characters; omit it or send null for the configured default.",
    "temperature": f"Between {_number(AGENT_TEMPERATURE.low)} and {_number(AGENT_TEMPERATURE.high)}.",
    "max_tokens": f"Between {_number(AGENT_MAX_TOKENS.low)} and {_number(AGENT_MAX_TOKENS.high)}.",
    "k_documents": f"Between {_number(AGENT_K_DOCUMENTS.low)} and {_number(AGENT_K_DOCUMENTS.high)}.",
    "min_score": f"Between {_number(AGENT_MIN_SCORE.low)} and {_number(AGENT_MIN_SCORE.high)}.",
    "greeting": f"At most {AGENT_GREETING.max_chars} characters.",
}


# --- knowledge documents --------------------------------------------------------------------------------

MAX_TITLE_CHARS = 200
MAX_SOURCE_CHARS = 500
