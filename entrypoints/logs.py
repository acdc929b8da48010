"""Logging: readable lines by default, one JSON object per line with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any

from entrypoints.http.request_id import RequestIdFilter
from entrypoints.startup import ShutdownCancelFilter, StartupFailureFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        access = getattr(record, "access", None)  # `extra=` of the access log (http/middleware.py)
        if isinstance(access, dict):
            entry["access"] = access
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """A dictConfig for the app and uvicorn alike (uvicorn accepts it as `log_config`)."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s]: %(message)s",
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
