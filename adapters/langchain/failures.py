"""How a failed model call is told, to the visitor and in the logs, without leaking what the provider said."""

from __future__ import annotations


class Unfinished(Exception):
    """The provider closed the stream without its finish marker (an in-stream error, a cut connection)."""


def key_rejected(error: BaseException) -> bool:
    """The provider refused the key (HTTP 401 or 403)."""
    return getattr(error, "status_code", None) in (401, 403)


def rejected_key_advice(key_env: str | None) -> str:
    """What to do about a refused key: the provider's own variable (none for a provider without keys)."""
    if key_env is None:
        return "the provider refused the call: check the server's access settings"
    return f"the provider rejected the key: set {key_env} to a valid key and restart the server"


def describe(model_id: str, error: BaseException, key_env: str | None = None) -> str:
    """A provider failure in words safe to show: its kind and HTTP status, never its raw text or a key.

    A refused key names the variable to set (`key_env`, the provider's)."""
    if isinstance(error, Unfinished):
        return f"{model_id} ended the answer without finishing it (an error inside the stream)."
    status = getattr(error, "status_code", None)
    kind = type(error).__name__
    if key_rejected(error):
        return f"{model_id} could not answer ({kind}, HTTP {status}): {rejected_key_advice(key_env)}."
    return f"{model_id} could not answer ({kind}{f', HTTP {status}' if status else ''})."
