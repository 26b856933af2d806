"""Argument-parsing pieces shared by the bench and pretrain commands: the one-line error parser,
list and literal value types, the ``--set METHOD.NAME=VALUE`` override items and their aliases,
and which flags a command line gave."""
from __future__ import annotations

import argparse
import ast
from typing import NamedTuple


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr, exit code 2."""

    def error(self, message):  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_list(text: str) -> list[int]:
    try:
        vals = [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return vals


def literal_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {"true": True, "false": False, "none": None}.get(text.lower(), text)


class Override(NamedTuple):
    """One hyperparameter override as the command line gave it.

    text: "METHOD.NAME=VALUE" (what is parsed); flag: how the user wrote it, for messages
    ("--set jit.lr=0.1" or "--jit-lr 0.1"); alias: True when it came from an alias flag.
    """
    text: str
    flag: str
    alias: bool = False


class SetAction(argparse.Action):
    """``--set METHOD.NAME=VALUE`` (repeatable): appends an ``Override`` to the destination list."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = _items(namespace, self.dest)
        items.append(Override(values, f"{option_string} {values}"))
        setattr(namespace, self.dest, items)


class SetAlias(argparse.Action):
    """An alias of ``--set TARGET=VALUE`` (TARGET is "METHOD.NAME"): appends the same ``Override``
    text to ``--set``'s destination list, remembering the alias flag. With ``nargs=0`` it is a
    switch that sets the hyperparameter to True."""

    def __init__(self, option_strings, dest, *, target: str, **kwargs):
        self.target = target
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        value = "True" if self.nargs == 0 else values
        items = _items(namespace, self.dest)
        flag = option_string if self.nargs == 0 else f"{option_string} {value}"
        items.append(Override(f"{self.target}={value}", flag, alias=True))
        setattr(namespace, self.dest, items)


def _items(namespace, dest) -> list:
    """A copy of the override list at ``dest`` (a new list when there is none yet)."""
    items = getattr(namespace, dest, None)
    return list(items) if isinstance(items, list) else []


def given_dests(parser: argparse.ArgumentParser, argv) -> list[str]:
    """The destinations that ``argv`` sets explicitly (even to their default value), in the parser's
    order: ``argv`` parsed again into a namespace where every destination starts as a marker, so
    argparse fills in no default."""
    unset = object()
    start = argparse.Namespace(**dict.fromkeys(vars(parser.parse_args([])), unset))
    return [dest for dest, value in vars(parser.parse_args(argv, namespace=start)).items() if value is not unset]
