"""Port: what `/ready` asks each component."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    ok: bool
    kind: str
    detail: str | None = None


class HealthProbe(ABC):
    """A component that can say whether it serves."""

    @abstractmethod
    async def health(self) -> ComponentHealth:
        """Its state now; never raises."""


class Vital(ABC):
    """A part of the process that may fail for good (then the process must be restarted)."""

    @property
    @abstractmethod
    def failure(self) -> str | None:
        """Why it failed for good, or None while it serves or recovers by itself."""
