"""`centralita … --help` names values the way people read them (ID, PATH..., URL), not as Python types."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Run


@pytest.mark.parametrize(
    "command", [["ingest"], ["chat"], ["agents", "show"], ["agents", "create"], ["serve"], ["doctor"]]
)
def test_help_shows_metavars_not_python_types(run: Run, command: list[str]) -> None:
    """typer 0.29 labels values `<int>`, `<list[Path]>` and flags `<bool>`: the help must not."""
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "<" not in result.stdout and "list[" not in result.stdout, result.stdout
