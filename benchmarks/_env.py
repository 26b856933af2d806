"""Shared by the benchmark scripts: the machine they ran on, and writing their reports into docs/speed.md.

Each script prints a markdown report. With ``--write-docs`` it also replaces its own section of
docs/speed.md, the lines between ``<!-- BEGIN name -->`` and ``<!-- END name -->``, with that report,
the exact command, the machine and the date, so the figures in the docs are written by the script
that measured them, never pasted by hand. The file is rewritten atomically (a temporary file in the
same folder, then ``os.replace``), so a killed run leaves the old file whole.
"""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEED_DOC = os.path.join(ROOT, "docs", "speed.md")


def load_average() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


#: The load average when the script started (this module is imported first), for the report.
LOAD_AT_START = load_average()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def add_threads_flag(ap) -> None:
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: torch's own choice)")


def apply_threads(ap, args) -> None:
    """Set torch's CPU thread count from --threads, or stop with a usage error."""
    import torch

    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)


# ----------------------------------------------------------------------------- reports into docs/speed.md

class Lines:
    """Print each line and keep it: the kept lines are the body of the script's docs report."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.extend(str(text).split("\n"))

    def text(self) -> str:
        return "\n".join(self.lines).strip("\n")


def add_write_docs_flag(ap, section: str) -> None:
    ap.add_argument("--write-docs", action="store_true",
                    help=f"also replace the '{section}' section of docs/speed.md with this run's report "
                         "(the table, the exact command, the machine and the date)")


def check_doc_section(ap, section: str, path: str = SPEED_DOC) -> None:
    """Stop with a usage error before any timing if ``section`` cannot be written (no file, no markers)."""
    try:
        _section_span(_read(path), section, path)
    except (OSError, ValueError) as err:
        ap.error(f"--write-docs: {err}")


def command_line() -> str:
    """The command that ran this script, as typed from the repository root."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    return " ".join(["python", shlex.quote(script), *(shlex.quote(a) for a in sys.argv[1:])])


def machine_line(device=None) -> str:
    """GPU (when ``device`` is CUDA), CPU, torch version and threads, and the load average at start."""
    import torch

    parts = []
    if device is not None and torch.device(device).type == "cuda":
        parts.append(f"GPU: {torch.cuda.get_device_name(torch.device(device))}")
    parts.append(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    parts.append(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")
    parts.append(f"{LOAD_AT_START} at start")
    return "; ".join(parts)


def docs_report(body: str, *, device=None, command: str | None = None, date: str | None = None) -> str:
    """The markdown that goes into a docs/speed.md section: who wrote it, how, where, when, then the body."""
    date = date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "*Written by the script (`--write-docs`), not by hand.*",
        "",
        f"- command: `{command or command_line()}`",
        f"- machine: {machine_line(device)}",
        f"- date: {date}",
        "",
        body.strip("\n"),
    ])


def write_doc_section(section: str, text: str, path: str = SPEED_DOC) -> None:
    """Replace what lies between ``<!-- BEGIN section -->`` and ``<!-- END section -->`` in ``path``
    with ``text``, atomically. The markers stay; everything outside them is kept byte for byte."""
    old = _read(path)
    start, end = _section_span(old, section, path)
    new = old[:start] + "\n" + text.strip("\n") + "\n" + old[end:]
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".speed-", suffix=".md.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_docs(section: str, body: str, device=None, path: str = SPEED_DOC) -> None:
    """The usual ending of a ``--write-docs`` run: the report into its section, and one line saying so."""
    write_doc_section(section, docs_report(body, device=device), path)
    print(f"\nwrote section '{section}' of {os.path.relpath(path, os.getcwd())}")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def _section_span(text: str, section: str, path: str) -> tuple[int, int]:
    """(end of the BEGIN marker's line, start of the END marker) for ``section``; exactly one of each."""
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise ValueError(f"{path} must hold exactly one '{begin}' and one '{end}' "
                         f"(found {text.count(begin)} and {text.count(end)})")
    b, e = text.index(begin) + len(begin), text.index(end)
    if e < b:
        raise ValueError(f"in {path}, '{end}' comes before '{begin}'")
    return b, e
