"""Every command's --help carries an example a user can copy."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from batchpay.cli import main


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        elif command is not None:
            found.append((*path, name))
    return found


COMMANDS = _commands(main)
def _param(path: tuple[str, ...]) -> object:
    return pytest.param(path, id=" ".join(path) or "batchpay")


def test_the_walk_finds_every_command() -> None:
    assert {("run",), ("validate",), ("sandbox", "serve")} <= set(COMMANDS)


@pytest.mark.parametrize("path", [_param(p) for p in COMMANDS])
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`batchpay {' '.join(path)} --help` has no example"
    example_lines = [line for line in result.output.splitlines()
                     if line.strip().startswith("batchpay ")]
    assert example_lines, "an example is a command line starting with 'batchpay '"


@pytest.mark.parametrize("path", [_param(p) for p in COMMANDS])
def test_help_fits_80_columns(path: tuple[str, ...]) -> None:
    """Read in an 80-column terminal: no line wraps, no command summary cut short ("...")."""
    result = CliRunner(env={"COLUMNS": "80"}).invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    listing = lines[lines.index("Commands:") + 1:] if "Commands:" in lines else []
    assert [line for line in listing if line.endswith("...")] == []
