"""Results as plain data: mean ± std tables with the gap to retrain, gap summaries, atomic JSON.

Used by the CLI (2-D and image benches), the sweep and the app's Images page. No plotting here:
figures are drawn by ``unlearn_core.bench.plots`` (the CLI's gap.html) and the app's views.
"""
from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np


def mean_std(vals: list[float], pct: bool) -> tuple[str, float]:
    """("mean ± std" over the finite values, mean); percent scales by 100 and shows one decimal."""
    arr = np.array([v for v in vals if v is not None and not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return "n/a", float("nan")
    k = 100.0 if pct else 1.0
    mean, std = arr.mean() * k, (arr.std(ddof=1) * k if len(arr) > 1 else 0.0)
    digits = 1 if pct else 3
    return (f"{mean:.{digits}f} ± {std:.{digits}f}" if len(arr) > 1 else f"{mean:.{digits}f}"), mean


TABLE_2D = [("acc_retain", "retain acc % ↑", True), ("acc_forget", "forget acc % (→ retrain)", True),
            ("acc_test", "test acc % ↑", True), ("mia", "entropy MIA % (→ retrain)", True),
            ("js_forget", "JS forget (↓, vs retrain)", False), ("boundary_disagreement", "boundary disagree % ↓", True),
            ("seconds", "seconds", False)]


def table(rows: list[dict], cols=None, gap_keys=("acc_retain", "acc_forget", "acc_test", "mia")) -> str:
    """Markdown table: mean ± std over seeds; in brackets the gap to retrain (method - retrain).

    ``cols``: (key, header, as_percent) per column (default: the 2-D columns); ``gap_keys``: the
    columns that get the gap to retrain.
    """
    order = list(dict.fromkeys(r["method"] for r in rows))
    cols = list(TABLE_2D if cols is None else cols)
    if any("audit_F" in r for r in rows):
        cols += [("audit_F", "audit F ↑ (retrain row = floor)", False), ("audit_final", "audit final ↑", False),
                 ("audit_eps_mean", "mean ε ↓", False), ("audit_ulira", "U-LiRA acc (→ 0.5)", False),
                 ("audit_retain_F", "retain-sample F ↑", False)]
    means = {}
    cells = {}
    for m in order:
        sub = [r for r in rows if r["method"] == m]
        for key, _, pct in cols:
            cells[m, key], means[m, key] = mean_std([r.get(key) for r in sub], pct)
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in order:
        out = []
        for key, _, pct in cols:
            cell = cells[m, key]
            gap_ok = key in gap_keys and m != "retrain" and ("retrain", key) in means
            if gap_ok and not math.isnan(means[m, key]):
                cell += f" ({means[m, key] - means['retrain', key]:+.1f})"
            out.append(cell)
        lines.append(f"| {m} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def write_json(path: str, rows: list[dict]) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(rows, fh, indent=1, default=float)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
