"""Results as plain data: per-method summaries (mean, std, n, gap to retrain) and the markdown
table drawn from them, gap summaries, atomic JSON.

``summarize`` computes the numbers of a results table (one group of rows: per method and column
the mean, std, count, "mean ± std" text and gap to retrain); ``table`` renders them as markdown.
Used by the CLI (2-D and image benches), the sweep and the app's Images page. No plotting here:
figures are drawn by ``unlearn_core.bench.plots`` (the CLI's gap.html) and the app's views.
"""
from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np


def _stats(vals, pct: bool) -> tuple[float, float, int]:
    """(mean, std, n) of the finite values; percent scales by 100. std has ddof 1 (0.0 for one
    value); mean and std are NaN when there is no value."""
    arr = np.array([v for v in vals if v is not None and not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan"), 0
    k = 100.0 if pct else 1.0
    return float(arr.mean() * k), float(arr.std(ddof=1) * k if len(arr) > 1 else 0.0), len(arr)


def _cell(mean: float, std: float, n: int, pct: bool) -> str:
    if n == 0:
        return "n/a"
    digits = 1 if pct else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def mean_std(vals: list[float], pct: bool) -> tuple[str, float]:
    """("mean ± std" over the finite values, mean); percent scales by 100 and shows one decimal."""
    mean, std, n = _stats(vals, pct)
    return _cell(mean, std, n, pct), mean


TABLE_2D = [("acc_retain", "retain acc % ↑", True), ("acc_forget", "forget acc % (→ retrain)", True),
            ("acc_test", "test acc % ↑", True), ("mia", "entropy MIA % (→ retrain)", True),
            ("js_forget", "JS forget (↓, vs retrain)", False), ("boundary_disagreement", "boundary disagree % ↓", True),
            ("seconds", "seconds", False)]
#: The audit's columns, added to the 2-D ones when the rows carry audit scores (``--audit K``).
AUDIT_COLUMNS = [("audit_F", "audit F ↑ (retrain row = floor)", False), ("audit_final", "audit final ↑", False),
                 ("audit_eps_mean", "mean ε ↓", False), ("audit_ulira", "U-LiRA acc (→ 0.5)", False),
                 ("audit_retain_F", "retain-sample F ↑", False)]
GAP_KEYS_2D = ("acc_retain", "acc_forget", "acc_test", "mia")


def columns_for(rows: list[dict], cols=None) -> list[tuple[str, str, bool]]:
    """The columns ``summarize`` and ``table`` use: ``cols`` (default: TABLE_2D), plus AUDIT_COLUMNS
    when any row carries audit scores."""
    out = list(TABLE_2D if cols is None else cols)
    if any("audit_F" in r for r in rows):
        out += AUDIT_COLUMNS
    return out


def _not_applicable(rows: list[dict]) -> str | None:
    """The reason the method does not apply (the rows' "na", e.g. "class-level method") when every row says
    the same one, else None."""
    reasons = {r.get("na") for r in rows}
    return reasons.pop() if len(reasons) == 1 and None not in reasons else None


def summarize(rows: list[dict], cols=None, gap_keys=GAP_KEYS_2D) -> list[dict]:
    """The numbers behind ``table``: one dict per method, in the order the methods first appear.

    ``rows``: one group's result rows (one dataset / setting / target), each with "method" and the
    metric keys. ``cols``: (key, header, as_percent) per column, default ``columns_for(rows)``;
    ``gap_keys``: the columns that get the gap to retrain. Returns::

        [{"method": "jit", "errors": 0,            # rows of this method with an "error"
          "columns": {"acc_forget": {"mean": 25.0, "std": 7.07, "n": 2,
                                     "cell": "25.0 ± 7.1", "gap": 24.0}, ...}}, ...]

    Per column: ``mean`` and ``std`` over the method's finite values (std with ddof 1; 0.0 for one
    value; both NaN and ``cell`` "n/a" when there is none, or "n/a: <reason>" when every row of the
    method carries the same ``"na"`` reason, e.g. "n/a: class-level method"; the summary then has
    ``"na"`` too), in percent where as_percent; ``n`` how
    many values; ``cell`` the table's "mean ± std" text (one decimal for percentages, three
    otherwise; the mean alone for one value); ``gap`` the method's mean minus retrain's, in the same
    units (percentage points), or None where the table shows no gap: the retrain row itself, a
    column not in ``gap_keys``, rows without retrain, or a method without a value (NaN where
    retrain has no value but the method has). Where there is a gap, ``retrain_std`` is retrain's
    std over seeds in that column (None with one retrain value).
    """
    cols = columns_for(rows) if cols is None else list(cols)
    order = list(dict.fromkeys(r["method"] for r in rows))
    out = []
    for m in order:
        sub = [r for r in rows if r["method"] == m]
        columns = {}
        na = _not_applicable(sub)
        for key, _, pct in cols:
            mean, std, n = _stats([r.get(key) for r in sub], pct)
            cell = f"n/a: {na}" if na and n == 0 else _cell(mean, std, n, pct)
            columns[key] = dict(mean=mean, std=std, n=n, cell=cell, gap=None)
        summary = dict(method=m, errors=sum(1 for r in sub if r.get("error")), columns=columns)
        if na:
            summary["na"] = na
        out.append(summary)
    ref = next((s["columns"] for s in out if s["method"] == "retrain"), None)
    for s in out:
        if s["method"] == "retrain" or ref is None:
            continue
        for key, c in s["columns"].items():
            if key in gap_keys and not math.isnan(c["mean"]):
                c["gap"] = c["mean"] - ref[key]["mean"]
                # retraining's own seed-to-seed spread, beside the gap: a gap inside it is noise
                c["retrain_std"] = ref[key]["std"] if ref[key]["n"] > 1 else None
    return out


def table(rows: list[dict], cols=None, gap_keys=GAP_KEYS_2D) -> str:
    """Markdown table: mean ± std over seeds; in brackets the gap to retrain (method - retrain) and, after
    a semicolon, retraining's own spread (the std of the retrain row over seeds; shown when retrain has
    more than one seed), so a reader can tell a real gap from noise: "90.0 ± 7.1 (-2.5; ±3.5)".

    ``cols``: (key, header, as_percent) per column (default: the 2-D columns; the audit's are added
    when the rows carry audit scores); ``gap_keys``: the columns that get the gap to retrain. The
    numbers are ``summarize``'s.
    """
    cols = columns_for(rows, cols)
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for s in summarize(rows, cols, gap_keys):
        out = []
        for key, _, _ in cols:
            c = s["columns"][key]
            if c["gap"] is None:
                out.append(c["cell"])
            elif c.get("retrain_std") is None:
                out.append(f"{c['cell']} ({c['gap']:+.1f})")
            else:
                out.append(f"{c['cell']} ({c['gap']:+.1f}; ±{c['retrain_std']:.1f})")
        lines.append(f"| {s['method']} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def strict_json(value):
    """``value`` as strict JSON data: NaN and ±inf become None (JSON ``null``; bare ``NaN`` is not JSON
    and strict readers reject it), numpy scalars and arrays become Python numbers and lists, tuples lists."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # a one-element tensor
        return strict_json(value.item())
    return str(value)


def _default_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give a new file: 0666 minus the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file with a unique name (``mkstemp``) in the same
    folder, flushed, given the permissions an ordinary write would (mkstemp makes 0600), then renamed
    over ``path``. A reader sees the old file or the new one, never an empty or partial one, and two
    writers sharing a folder never write into each other's temporary file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str, rows) -> None:
    """Write ``rows`` as strict JSON (NaN -> null; ``strict_json``), atomically (``atomic_write_text``)."""
    atomic_write_text(path, json.dumps(strict_json(rows), indent=1, allow_nan=False))


#: The image bench's columns: (key, header, as percent); the gap to retrain goes on IMAGE_GAP_KEYS.
IMAGE_COLUMNS = [("acc_retain", "retain acc % ↑", True), ("acc_forget", "forget acc % (→ retrain)", True),
           ("acc_test", "test acc % ↑", True), ("mia", "entropy MIA % (→ retrain)", True),
           ("loss_mia", "loss MIA acc % (→ retrain)", True), ("js_forget", "JS to retrain on D_f ↓", False),
           ("seconds", "seconds", False)]
IMAGE_GAP_KEYS = ("acc_retain", "acc_forget", "acc_test", "mia", "loss_mia")


def _mean(values) -> float:
    """Mean of the finite values (NaN for none: a method that did not run)."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return float(np.mean(vals)) if vals else float("nan")


def gap_summary(rows: list[dict]) -> list[dict]:
    """Per (setting, target, method): mean |metric - retrain's| over seeds, for each gap metric, and their mean."""
    out = []
    groups = list(dict.fromkeys((r["setting"], str(r["target"])) for r in rows))
    for setting, target in groups:
        sub = [r for r in rows if r["setting"] == setting and str(r["target"]) == target]
        ref = {k: _mean([r[k] for r in sub if r["method"] == "retrain"]) for k in IMAGE_GAP_KEYS}
        for m in dict.fromkeys(r["method"] for r in sub):
            if m == "retrain":
                continue
            gaps = {k: abs(_mean([r[k] for r in sub if r["method"] == m]) - ref[k]) * 100 for k in IMAGE_GAP_KEYS}
            vals = [v for v in gaps.values() if not math.isnan(v)]
            out.append(dict(setting=setting, target=target, method=m, **gaps,
                            mean_gap=float(np.mean(vals)) if vals else float("nan")))
    return out
