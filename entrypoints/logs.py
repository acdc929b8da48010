"""Logging: readable lines by default, one JSON object per line with LOG_FORMAT=json.

Both formatters write every record — ours, uvicorn's, the libraries' — through `entrypoints.log_safety`:
control characters escaped, visitor session ids hashed. In text mode a traceback follows its record with
every line indented, so a line that starts at the margin is always the start of a real record.
"""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any

from entrypoints.http.request_id import RequestIdFilter
from entrypoints.log_safety import json_safe, one_line, redact_sessions
from entrypoints.startup import ShutdownCancelFilter, StartupFailureFilter


def _trace(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback and stack, as `logging.Formatter.format` would append them."""
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord(record.__dict__)
        bare.msg, bare.args = record.getMessage().rstrip(), None
        bare.exc_info = bare.exc_text = bare.stack_info = None
        line = one_line(super().format(bare))
        trace = _trace(self, record)
        return "\n".join([line, *(f"  {one_line(part)}" for part in trace.splitlines())])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_sessions(record.getMessage()),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        access = getattr(record, "access", None)  # `extra=` of the access log (http/middleware.py)
        if isinstance(access, dict):
            entry["access"] = {k: redact_sessions(v) if isinstance(v, str) else v for k, v in access.items()}
        if trace := _trace(self, record):
            entry["exception"] = redact_sessions(trace)
        return json_safe(json.dumps(entry, ensure_ascii=False))


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """A dictConfig for the app and uvicorn alike (uvicorn accepts it as `log_config`)."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {
            "()": TextFormatter,
            "fmt": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s]: %(message)s",
            "datefmt": "%H:%M:%S",
        }
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        # Every line carries its request id ("-" outside a request); a failed startup is one clear line.
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "startup": {"()": StartupFailureFilter},
            "shutdown": {"()": ShutdownCancelFilter},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "startup", "shutdown"],
            }
        },
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.access": {"level": "WARNING"},  # requests are logged by the app, without bodies
            "httpx": {"level": "WARNING"},
        },
    }
