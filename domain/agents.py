"""Agents: the configured assistants a visitor talks to."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.clock import utc_now
from domain.errors import InvalidAgent

DEFAULT_K_DOCUMENTS = 4
MAX_K_DOCUMENTS = 50


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
        if not self.name.strip() or len(self.name) > 200:
            problems.append("name must have 1 to 200 characters")
        if not self.system_prompt.strip():
            problems.append("system_prompt must not be empty")
        if len(self.system_prompt) > 50_000:
            problems.append("system_prompt must have at most 50000 characters")
        if not 2 <= len(self.language) <= 16:
            problems.append("language must be a language tag such as 'es' or 'en'")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            problems.append("temperature must be between 0 and 2")
        if self.max_tokens is not None and not 1 <= self.max_tokens <= 200_000:
            problems.append("max_tokens must be between 1 and 200000")
        if not 0 <= self.k_documents <= MAX_K_DOCUMENTS:
            problems.append(f"k_documents must be between 0 and {MAX_K_DOCUMENTS}")
        if self.min_score is not None and not -1.0 <= self.min_score <= 1.0:
            problems.append("min_score must be between -1 and 1")
        if self.model is not None and not self.model.strip():
            problems.append("model must not be blank (omit it to use the configured default)")
        if self.greeting is not None and len(self.greeting) > 2000:
            problems.append("greeting must have at most 2000 characters")
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
