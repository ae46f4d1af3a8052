"""The README names every command and every option: the CLI's help is not the only manual."""

from pathlib import Path

import typer

from papercoder.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands():
    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        if hasattr(command, "commands"):  # a group; typer >= 0.29 carries its own copy of click
            for sub_name, sub in command.commands.items():
                yield f"{name} {sub_name}", sub
        else:
            yield name, command


def test_every_command_and_long_option_is_in_the_readme():
    missing = []
    for name, command in _commands():
        if f"papercoder {name}" not in README and f"`{name}" not in README:
            missing.append(name)
        for param in command.params:
            for option in [*param.opts, *param.secondary_opts]:
                if option.startswith("--") and option != "--help" and option not in README:
                    missing.append(f"{name} {option}")
    assert not missing, f"the README does not name: {', '.join(missing)}"
