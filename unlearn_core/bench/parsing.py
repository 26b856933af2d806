"""Argument-parsing pieces shared by the bench and pretrain commands: the one-line error parser,
list and literal value types, the bounds of every size and count flag (``FLAG_BOUNDS``, documented
in docs/cli.md by ``bounds_table``), the caps on ``--set`` numbers, the ``--device`` and output
checks, the ``--set METHOD.NAME=VALUE`` override items and their aliases, and which flags a
command line gave. Every check here raises with a message that names the flag, before any work."""
from __future__ import annotations

import argparse
import ast
import math
import os
import tempfile
from typing import NamedTuple

import torch

from unlearn_core.data import resolve_device


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr, exit code 2."""

    def error(self, message):  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


class Bound(NamedTuple):
    """The valid values of one numeric flag: ``kind`` "int" or "float", inclusive ``low`` / ``high``
    (``low_open`` / ``high_open`` exclude them); for list flags ``max_items`` caps how many values."""
    kind: str
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    max_items: int | None = None

    def text(self) -> str:
        """The range in words, e.g. "an integer from 1 to 10,000", "a number in (0, 10]"."""
        if self.kind == "int":
            return f"an integer from {self.low:,} to {self.high:,}"
        lo, hi = _show_number(self.low), _show_number(self.high)
        return f"a number in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"

    def check(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if value < self.low or value > self.high:  # exact for ints of any size
            return False
        return not ((self.low_open and value == self.low) or (self.high_open and value == self.high))


def shown(text: str, limit: int = 30) -> str:
    """``text`` quoted for a message, cut to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def _show_number(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() and abs(v) >= 1000 else f"{v:g}"


SEED_MAX = 2**32 - 1  # numpy's and torch's seeds are unsigned 32/64-bit; one range for both
#: Every size, count, seed and rate flag of both commands and its valid values (docs/cli.md, "Bounds",
#: is ``bounds_table()``). The bounds keep a run finite: none stops a realistic experiment.
FLAG_BOUNDS: dict[str, Bound] = {
    # data (2-D)
    "--n-samples": Bound("int", 4, 50_000),  # toy_data.MAX_SAMPLES
    "--noise": Bound("float", 0, 10),
    "--classes": Bound("int", 2, 20),
    "--data-seed": Bound("int", 0, SEED_MAX),
    "--test-size": Bound("float", 0, 1, low_open=True, high_open=True),
    # what to forget
    "--forget-class": Bound("int", 0, 99),
    "--forget-count": Bound("int", 1, 50_000),
    "--forget-region": Bound("float", -1e6, 1e6),
    "--forget-indices": Bound("int", 0, 49_999, max_items=50_000),
    "--tau": Bound("float", 0, 1, low_open=True),
    "--radius": Bound("float", 0, 100, low_open=True),
    "--target": Bound("int", 1, 100, max_items=100),  # how many targets (names or indices)
    # the 2-D model and its training
    "--hidden": Bound("int", 1, 1024, max_items=8),
    "--epochs": Bound("int", 1, 10_000),
    "--lr": Bound("float", 0, 10, low_open=True),
    "--batch-size": Bound("int", 1, 50_000),
    "--seeds": Bound("int", 0, SEED_MAX, max_items=100),
    # image training (bench) and pretrain
    "--train-epochs": Bound("int", 1, 1_000),
    "--train-lr": Bound("float", 0, 10, low_open=True),
    "--train-batch-size": Bound("int", 1, 65_536),
    "--seed": Bound("int", 0, SEED_MAX),
    # the audit and the machine
    "--audit": Bound("int", 0, 1_024),
    "--threads": Bound("int", 1, 256),
}

#: The same flags in pretrain read these bounds (``--epochs`` there is the image recipe's).
PRETRAIN_BOUNDS = {"--epochs": FLAG_BOUNDS["--train-epochs"], "--lr": FLAG_BOUNDS["--train-lr"],
                   "--batch-size": FLAG_BOUNDS["--train-batch-size"], "--seed": FLAG_BOUNDS["--seed"]}

#: Caps on ``--set`` numbers beyond each method's own declared range (a method declares what is valid;
#: the command line also keeps every run finite). By the hyperparameter's name: (suffix, Bound).
SET_CAPS: tuple[tuple[str, Bound], ...] = (
    ("seed", Bound("int", 0, SEED_MAX)),
    ("epochs", Bound("int", 0, 10_000)),
    ("steps", Bound("int", 0, 100_000)),
    ("iterations", Bound("int", 0, 100_000)),
    ("iter", Bound("int", 0, 100_000)),
    ("batch_size", Bound("int", 1, 65_536)),
    ("n_samples", Bound("int", 1, 10_000)),
    ("n_noise", Bound("int", 1, 10_000)),
    ("copies", Bound("int", 1, 1_000)),
    ("per_class", Bound("int", 1, 100_000)),
    ("z_dim", Bound("int", 1, 4_096)),
    ("width", Bound("int", 1, 4_096)),
    ("lr", Bound("float", 0, 10)),
)
#: Any other --set number: at most this in size.
SET_INT_MAX = 1_000_000
SET_FLOAT_MAX = 1e6


def _number(text: str, kind: str) -> float | None:
    """``text`` as a number of ``kind`` ("1e3" is the integer 1000), or None when it is not one."""
    if len(text) > 100:  # no valid value is this long (and int() refuses over 4,300 digits)
        return None
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            return None
        if kind == "int":
            if not math.isfinite(value) or value != int(value):
                return None
            value = int(value)
    if kind == "float":
        try:
            return float(value)
        except OverflowError:
            return math.inf
    return value


def bounded(flag: str, bounds: dict[str, Bound] | None = None):
    """An argparse ``type`` for ``flag``: a number within ``FLAG_BOUNDS[flag]``, or an error that
    says what is valid (argparse prefixes it with "argument FLAG:")."""
    b = (bounds or FLAG_BOUNDS)[flag]

    def parse(text: str):
        value = _number(text.strip(), b.kind)
        if value is None or not b.check(value):
            raise argparse.ArgumentTypeError(f"must be {b.text()}, got {shown(text)}")
        return value
    parse.__name__ = flag  # argparse names a failing type by it
    return parse


def bounded_list(flag: str):
    """An argparse ``type`` for a comma list flag (``--seeds 0,1,2``): each value within
    ``FLAG_BOUNDS[flag]``, at most ``max_items`` of them, at least one."""
    b = FLAG_BOUNDS[flag]

    def parse(text: str) -> list[int]:
        parts = [t.strip() for t in text.split(",") if t.strip() != ""]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {text!r}")
        if b.max_items is not None and len(parts) > b.max_items:
            raise argparse.ArgumentTypeError(f"takes at most {b.max_items:,} values, got {len(parts):,}")
        values = []
        for t in parts:
            v = _number(t, b.kind)
            if v is None or not b.check(v):
                raise argparse.ArgumentTypeError(f"each value must be {b.text()}, got {shown(t)}")
            values.append(v)
        return values
    parse.__name__ = flag
    return parse


def document_bounds(parser: argparse.ArgumentParser, bounds: dict[str, Bound] | None = None) -> None:
    """Append each bounded flag's range to its --help line (the flags typed by ``bounded``/``bounded_list``)."""
    table = bounds or FLAG_BOUNDS
    for action in parser._actions:
        flag = getattr(action.type, "__name__", None)
        if flag in table and action.help is not argparse.SUPPRESS:
            b = table[flag]
            what = b.text() + (f", at most {b.max_items:,} of them" if b.max_items else "")
            action.help = f"{action.help}; {what}" if action.help else what


def cap_override(flag: str, method: str, name: str, value):
    """A ``--set`` number (already checked by its method) within the command line's caps
    (``SET_CAPS``, ``SET_INT_MAX``, ``SET_FLOAT_MAX``); ValueError naming ``flag`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    kind = "int" if isinstance(value, int) else "float"
    cap = next((b for suffix, b in SET_CAPS if name.endswith(suffix) and b.kind == kind), None)
    if cap is None:
        cap = Bound(kind, -SET_INT_MAX, SET_INT_MAX) if kind == "int" else Bound(kind, -SET_FLOAT_MAX, SET_FLOAT_MAX)
    if not cap.check(value):
        raise ValueError(f"{flag}: {method}.{name} must be {cap.text()} on the command line, got {value!r}")
    return value


def bounds_table() -> str:
    """The markdown table of ``FLAG_BOUNDS`` and ``SET_CAPS`` that docs/cli.md shows."""
    lines = ["| flag | valid values |", "|---|---|"]
    for flag, b in FLAG_BOUNDS.items():
        what = b.text()
        if flag == "--target":
            what = f"at most {b.max_items} names or indices"
        elif b.max_items is not None:
            what = f"at most {b.max_items:,} values, each {what}"
        elif flag == "--audit":
            what = "0 (off), or an integer from 4 to 1,024"
        elif flag == "--forget-region":
            what = f"four numbers, each {what}"
        lines.append(f"| `{flag}` | {what} |")
    lines.append("| pretrain's `--epochs`, `--lr`, `--batch-size` | as `--train-epochs`, `--train-lr`, "
                 "`--train-batch-size` |")
    for suffix, b in SET_CAPS:
        lines.append(f"| `--set METHOD.*{suffix}` | {b.text()} (and the method's own range) |")
    lines.append(f"| any other `--set` number | at most {SET_INT_MAX:,} in size |")
    return "\n".join(lines)


def device_arg(text: str) -> str:
    """An argparse ``type`` for ``--device``: cpu, cuda, cuda:N or auto, on a machine that has it."""
    text = text.strip()
    bad = f"{text!r} is not a device; use cpu, cuda, cuda:N or auto"
    if text == "auto":
        return text
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(bad) from None
    if dev.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(bad)
    try:
        resolve_device(dev)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return text


def _probe_writable(flag: str, folder: str) -> None:
    """A file can be created in ``folder`` (tried for real: permissions, read-only mounts, quotas)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise ValueError(f"{flag}: cannot write in the folder {folder} ({err.strerror or err}); "
                         "choose a folder you can write to") from None


def check_output_file(flag: str, path: str, example: str = "rows.json") -> None:
    """``path`` can be written as a file: not a folder, its folder exists and is writable.
    Checked before any run starts, so a long run never fails at its last step."""
    if path is None:
        return
    if not str(path).strip():
        raise ValueError(f"{flag}: the path is empty")
    full = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(full):
        raise ValueError(f"{flag} {path}: is a folder; name a file inside it, e.g. {os.path.join(path, example)}")
    if os.path.exists(full) and not os.path.isfile(full):
        raise ValueError(f"{flag} {path}: exists and is not a regular file")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {path}: the folder {folder} does not exist; create it first or choose another path")
    _probe_writable(flag, folder)


def check_output_dir(flag: str, path: str) -> None:
    """``path`` can be used as an output folder: an existing writable folder, or a missing one whose
    nearest existing parent is a writable folder (it is created when the run starts)."""
    if path is None:
        return
    if not str(path).strip():
        raise ValueError(f"{flag}: the path is empty")
    full = os.path.abspath(os.path.expanduser(path))
    probe = full
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        what = "is a file" if probe == full else f"lies under {probe}, which is a file"
        raise ValueError(f"{flag} {path}: {what}; {flag} names a folder (it is created if missing)")
    _probe_writable(flag, probe)


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
