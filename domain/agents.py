"""Agents: the configured assistants a visitor talks to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.clock import utc_now
from domain.errors import InvalidAgent
from domain.rules import (
    AGENT_GREETING,
    AGENT_K_DOCUMENTS,
    AGENT_LANGUAGE,
    AGENT_MAX_TOKENS,
    AGENT_MIN_SCORE,
    AGENT_NAME,
    AGENT_SYSTEM_PROMPT,
    AGENT_TEMPERATURE,
    DEFAULT_K_DOCUMENTS,
    MODEL_PATTERN,
    NON_BLANK,
)

_NON_BLANK = re.compile(NON_BLANK)
_MODEL = re.compile(MODEL_PATTERN)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """The fields an operator sets; `None` model/temperature/max_tokens mean "the configured default"."""

    name: str
    system_prompt: str
    language: str = "es"
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    k_documents: int = DEFAULT_K_DOCUMENTS
    min_score: float | None = None
    greeting: str | None = None

    def validated(self) -> AgentSpec:
        """Return self when every field is within its bounds, else raise InvalidAgent."""
        problems = []
        if not _NON_BLANK.search(self.name) or len(self.name) > AGENT_NAME.max_chars:
            problems.append(f"name must have {AGENT_NAME.min_chars} to {AGENT_NAME.max_chars} characters")
        if not _NON_BLANK.search(self.system_prompt):
            problems.append("system_prompt must not be empty")
        if len(self.system_prompt) > AGENT_SYSTEM_PROMPT.max_chars:
            problems.append(f"system_prompt must have at most {AGENT_SYSTEM_PROMPT.max_chars} characters")
        if not AGENT_LANGUAGE.min_chars <= len(self.language) <= AGENT_LANGUAGE.max_chars:
            problems.append("language must be a language tag such as 'es' or 'en'")
        if self.temperature is not None and not AGENT_TEMPERATURE.holds(self.temperature):
            problems.append(
                f"temperature must be between {AGENT_TEMPERATURE.low:g} and {AGENT_TEMPERATURE.high:g}"
            )
        if self.max_tokens is not None and not AGENT_MAX_TOKENS.holds(self.max_tokens):
            problems.append(f"max_tokens must be between {AGENT_MAX_TOKENS.low} and {AGENT_MAX_TOKENS.high}")
        if not AGENT_K_DOCUMENTS.holds(self.k_documents):
            problems.append(
                f"k_documents must be between {AGENT_K_DOCUMENTS.low} and {AGENT_K_DOCUMENTS.high}"
            )
        if self.min_score is not None and not AGENT_MIN_SCORE.holds(self.min_score):
            problems.append(f"min_score must be between {AGENT_MIN_SCORE.low:g} and {AGENT_MIN_SCORE.high:g}")
        if self.model is not None and not _MODEL.search(self.model):
            problems.append(
                "model must not be blank or hold control characters (omit it to use the configured default)"
            )
        if self.greeting is not None and len(self.greeting) > AGENT_GREETING.max_chars:
            problems.append(f"greeting must have at most {AGENT_GREETING.max_chars} characters")
        if problems:
            raise InvalidAgent("; ".join(problems) + ".")
        return self


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    spec: AgentSpec
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)

    def with_changes(self, changes: dict[str, Any], now: datetime) -> Agent:
        """A copy with some spec fields changed (PATCH semantics), validated."""
        unknown = set(changes) - set(AgentSpec.__dataclass_fields__)
        if unknown:
            raise InvalidAgent(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
        spec = replace(self.spec, **changes).validated()
        return replace(self, spec=spec, updated_at=now)


DEFAULT_AGENT = AgentSpec(
    name="Asistente general",
    system_prompt=(
        "Eres Centralita, el asistente virtual de atención al cliente de la empresa. "
        "Respondes con amabilidad, de forma clara y breve, en el idioma en que te escriba el visitante. "
        "Si no sabes algo, lo dices y ofreces pasar la consulta a una persona del equipo."
    ),
    language="es",
    greeting="¡Hola! Soy el asistente virtual. ¿En qué puedo ayudarte?",
)
