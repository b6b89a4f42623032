"""``kafkaops completion``: the scripts are written from the parser, and a real bash completes with them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kafkaops.cli import build_parser, main
from kafkaops.completion import bash_script, commands, zsh_script

pytestmark = pytest.mark.unit
SUBCOMMANDS = ("run", "diff", "example-consumer", "example-producer", "version", "completion")


def completions(line: str) -> list[str]:
    """What bash offers after ``line`` (its last word being completed), running the generated script."""
    script = bash_script(build_parser())
    words = line.split() + ([""] if line.endswith(" ") else [])
    quoted = " ".join(f"'{word}'" for word in words)
    driver = (f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
              "_kafkaops; printf '%s\\n' \"${COMPREPLY[@]}\"")
    result = subprocess.run([shutil.which("bash") or "bash", "--norc", "-c", driver], capture_output=True,
                            text=True, timeout=10, check=True)
    return sorted(word for word in result.stdout.splitlines() if word)


def test_the_parser_has_the_subcommands_the_script_must_offer():
    assert tuple(c.name for c in commands(build_parser())) == SUBCOMMANDS


@pytest.mark.parametrize(("line", "offered"), [
    ("kafkaops ", sorted([*SUBCOMMANDS, "-h", "--help"])),
    ("kafkaops d", ["diff"]),
    ("kafkaops run --lag", ["--lag-granularity"]),
    ("kafkaops run --lag-granularity ", ["partition", "topic"]),
    ("kafkaops run --tenancy-mode en", ["enforce"]),
    ("kafkaops diff -o ", ["json", "text"]),
    ("kafkaops diff -f ", []),  # a file name: bash's own completion (complete -o default)
    ("kafkaops diff --fil", ["--filename"]),
    ("kafkaops completion ", ["bash", "zsh"]),
])
def test_bash_completes_subcommands_flags_and_their_values(line, offered):
    assert completions(line) == offered


def test_every_subcommand_and_flag_is_in_the_bash_script():
    script = bash_script(build_parser())
    assert f"{'|'.join(SUBCOMMANDS)})" in script
    for command in commands(build_parser()):
        for option in command.options:
            assert option in script, (command.name, option)


def test_zsh_runs_the_same_function_through_bashcompinit():
    script = zsh_script(build_parser())
    assert script.startswith("#compdef kafkaops\n") and "bashcompinit" in script
    assert bash_script(build_parser()).split("\n", 2)[2] in script


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_the_subcommand_prints_the_script(shell, capsys):
    assert main(["completion", shell]) == 0
    assert "complete -o default -F _kafkaops kafkaops" in capsys.readouterr().out
