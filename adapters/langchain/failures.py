"""How a failed model call is told, to the visitor and in the logs, without leaking what the provider said."""

from __future__ import annotations


class Unfinished(Exception):
    """The provider closed the stream without its finish marker (an in-stream error, a cut connection)."""


def describe(model_id: str, error: BaseException) -> str:
    """A provider failure in words safe to show: its kind and HTTP status, never its raw text or a key."""
    if isinstance(error, Unfinished):
        return f"{model_id} ended the answer without finishing it (an error inside the stream)."
    status = getattr(error, "status_code", None)
    kind = type(error).__name__
    return f"{model_id} could not answer ({kind}{f', HTTP {status}' if status else ''})."
