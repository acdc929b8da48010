"""Help text with the metavars people know (`ID`, `PATH…`, `URL`), not typer's Python type names.

typer 0.29 labels every value with its annotation (`<int>`, `<list[Path]>`, `<bool>` on a flag). Parameters
that name their own metavar keep it; the others get one from their annotation here, once, before the CLI runs.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import typer

_BY_TYPE: dict[Any, str] = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH", bool: "BOOLEAN"}
_BY_NAME = {"server": "URL", "api_key": "KEY", "agent": "ID", "agent_id": "ID", "session": "ID"}


def plain_metavars(command: Any) -> Any:
    """Set a metavar on every parameter of `command` and its subcommands that has none."""
    _walk(command)
    return command


def _walk(command: Any) -> None:
    context = typer.Context(command, help_option_names=["-h", "--help"])
    help_option = command.get_help_option(context)  # made on first use and cached: label it too
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if isinstance(param, typer.core.TyperArgument):
            # An argument's metavar is its name (usage line, first column); its type column is labelled apart.
            param.display_type = _Fixed(_label(param))  # type: ignore[method-assign]
            continue
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""  # a flag takes no value: show none
            continue
        param.metavar = _label(param)
    for sub in getattr(command, "commands", {}).values():
        _walk(sub)


def _label(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    inner = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
    label = _BY_NAME.get(param.name or "") or _BY_TYPE.get(inner, "VALUE")
    return f"{label}..." if param.nargs != 1 else label


class _Fixed:
    """Stands in for a parameter's `display_type(ctx)`: always the same label."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, ctx: object) -> str:
        return self.label
