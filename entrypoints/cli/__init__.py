"""The `centralita` command line (the console script `centralita = "entrypoints.cli:main"`).

Exit codes, for every command (entrypoints/cli/common.py, `ExitCode`):

  0  success
  1  the command ran but something failed (doctor: a broken check; ingest: some files; chat -m: the turn)
  2  bad arguments or options
  3  the server (or the store) cannot be reached
  4  the server refused the credentials (set ADMIN_API_KEY)
  5  the agent or document does not exist
  6  the server answered with another error
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import typer

from entrypoints.cli import agents, atlas
from entrypoints.cli.chat import chat
from entrypoints.cli.config_docs import config_docs
from entrypoints.cli.doctor import doctor
from entrypoints.cli.help import plain_metavars
from entrypoints.cli.ingest import ingest
from entrypoints.cli.serve import serve

EPILOG = (
    "Exit codes: 0 ok · 1 something failed · 2 bad usage · 3 server unreachable · 4 credentials refused "
    "· 5 not found · 6 other server error · 130 interrupted."
)

app = typer.Typer(
    help="Centralita: AI agents for a call center.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(ingest)
app.command()(chat)
app.add_typer(agents.app, name="agents")
app.add_typer(atlas.app, name="atlas")
app.command()(doctor)
app.command("config-docs")(config_docs)


def main() -> None:
    plain_metavars(typer.main.get_command(app))()
