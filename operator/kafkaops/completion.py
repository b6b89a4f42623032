"""``kafkaops completion bash|zsh``: a static shell completion script written from the argparse
parser itself, so a new subcommand or flag is completed without anyone editing a script
(argcomplete would do it at run time, but is one more dependency for a few lines of bash)."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    options: tuple[str, ...]  # every option string, e.g. ("-f", "--filename", ...)
    choices: dict[str, tuple[str, ...]]  # an option's (or "" for the positionals') fixed values
    free: tuple[str, ...]  # options taking a value argparse cannot list (a file, a host): the shell's default


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Each subcommand with its options and the values argparse would accept where it knows them."""
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, subparser in sub.choices.items():
        options: list[str] = []
        free: list[str] = []
        choices: dict[str, tuple[str, ...]] = {}
        for action in subparser._actions:  # argparse has no public walk of its actions
            options.extend(action.option_strings)
            if action.choices:
                for key in action.option_strings or [""]:
                    choices[key] = choices.get(key, ()) + tuple(str(choice) for choice in action.choices)
            elif action.option_strings and action.nargs != 0:
                free.extend(action.option_strings)
        found.append(Command(name, tuple(options), choices, tuple(free)))
    return found


def _reply(words: list[str] | tuple[str, ...]) -> str:
    return f'COMPREPLY=($(compgen -W {shlex.quote(" ".join(words))} -- "$cur"))'


def _command_case(command: Command) -> str:
    """After ``prev``: its values, or nothing (bash then completes file names); else the options,
    or the positional's values."""
    lines = [f"        {command.name})", '            case "$prev" in']
    lines += [f"                {shlex.quote(option)}) {_reply(words)}; return;;"
              for option, words in command.choices.items() if option]
    if command.free:
        lines.append(f"                {'|'.join(command.free)}) return;;")
    lines.append("            esac")
    positional = command.choices.get("")
    if positional:
        lines.append(f'            if [[ "$cur" == -* ]]; then {_reply(command.options)}; '
                     f"else {_reply(positional)}; fi;;")
    else:
        lines.append(f"            {_reply(command.options)};;")
    return "\n".join(lines) + "\n"


def bash_script(parser: argparse.ArgumentParser) -> str:
    prog = parser.prog
    function = f"_{prog.replace('-', '_')}"
    found = commands(parser)
    names = [c.name for c in found]
    return (f"# {prog} completion for bash, written by `{prog} completion bash` from its own parser.\n"
            f"# Load it with: source <({prog} completion bash)\n"
            f"{function}() {{\n"
            f'    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" command="" i\n'
            f"    for ((i = 1; i < COMP_CWORD; i++)); do\n"
            f'        case "${{COMP_WORDS[i]}}" in\n'
            f'            {"|".join(names)}) command="${{COMP_WORDS[i]}}"; break;;\n'
            f"        esac\n"
            f"    done\n"
            f'    case "$command" in\n'
            f'        "") {_reply([*names, "-h", "--help"])};;\n'
            f"{''.join(_command_case(c) for c in found)}"
            f"    esac\n"
            f"}}\n"
            f"complete -o default -F {function} {prog}\n")


def zsh_script(parser: argparse.ArgumentParser) -> str:
    """zsh runs the same function through its bash completion layer (bashcompinit)."""
    return (f"#compdef {parser.prog}\n"
            f"# Load it with: source <({parser.prog} completion zsh)\n"
            "autoload -U +X bashcompinit && bashcompinit\n"
            + bash_script(parser).split("\n", 2)[2])


SCRIPTS = {"bash": bash_script, "zsh": zsh_script}
