"""The command line: thin by design.

Each command lives in ``papercoder.commands.<area>`` and registers itself on the one Typer app;
a command parses its flags, calls one library function and prints. Errors that a user can fix
(:class:`~papercoder.errors.PapercoderError`) become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import sys

import typer

from papercoder import __version__
from papercoder.errors import PapercoderError

app = typer.Typer(
    name="papercoder",
    help="Turn a machine-learning paper into a code repository that reproduces it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"papercoder {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Turn a machine-learning paper into a code repository that reproduces it."""


def _register_commands() -> None:
    from papercoder.commands import bench, debug, evaluate, export, ingest, models, pipeline, report, reproduce, verify

    for module in (ingest, models, pipeline, debug, verify, reproduce, evaluate, export, report, bench):
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``papercoder`` console script."""
    try:
        app(args=argv, standalone_mode=True)
    except PapercoderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a path that is a file, a full disk, no permission: say which, not where in the code
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}; check the path and the free space", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
