"""report.summarize (the numbers) and report.table (their markdown): the table is byte-identical to the one
the bench printed before summarize existed (EXPECTED was written by that implementation on these rows);
n/a rows (a class-level method in the random setting) in the tables and the 2-D bench's JSON rows."""
import math
import re

import numpy as np
import pytest

from unlearn_core.bench.run2d import run_seed
from unlearn_core.problem import ModelRecipe, make_problem
from unlearn_core.report import IMAGE_COLUMNS, IMAGE_GAP_KEYS, summarize, table

nan = float("nan")


def r(method, seed, **kw):
    base = dict(dataset="moons", setting="random", seed=seed, method=method, acc_retain=0.98, acc_forget=1.0,
                acc_test=0.95, mia=0.9, js_forget=0.03, boundary_disagreement=0.05, seconds=0.1)
    base.update(kw)
    return base


ROWS_2D = [r("original", 0), r("original", 1, acc_retain=0.975, mia=0.85),
           r("retrain", 0, acc_forget=0.9, js_forget=0.0, boundary_disagreement=0.0, seconds=0.2),
           r("retrain", 1, acc_forget=0.95, js_forget=0.0, boundary_disagreement=0.0, seconds=0.25),
           r("jit", 0, acc_forget=0.95, acc_retain=0.9712, seconds=0.0071),
           r("jit", 1, acc_forget=0.85, acc_retain=0.9655, mia=None, seconds=0.0069),
           r("finetune", 0, acc_test=0.93123),
           r("emmn", 0, **{k: nan for k in ("acc_retain", "acc_forget", "acc_test", "mia", "js_forget",
                                              "boundary_disagreement", "seconds")}, error="diverged")]
ROWS_AUDIT = [dict(row, audit_F=0.5 + 0.1 * row["seed"], audit_final=0.4, audit_eps_mean=3.25, audit_ulira=0.55,
                   audit_retain_F=0.9) for row in ROWS_2D[:6]]
ROWS_IMAGE = [dict(row, loss_mia=0.5 + 0.01 * row["seed"]) for row in ROWS_2D]
ROWS_NO_RETRAIN = [row for row in ROWS_2D if row["method"] != "retrain"]
ROWS_RETRAIN_NAN = [dict(row, mia=nan) if row["method"] == "retrain" else row for row in ROWS_2D]


#: Written by the table() of commit 7b07243 (before summarize) on the rows above.
EXPECTED = {
    '2d': (
        '| method | retain acc % ↑ | forget acc % (→ retrain) | test acc % ↑ | entropy MIA % (→ retrain) | JS forget (↓, vs retrain) | boundary disagree % ↓ | seconds |\n'
        '|---|---|---|---|---|---|---|---|\n'
        '| original | 97.8 ± 0.4 (-0.2) | 100.0 ± 0.0 (+7.5) | 95.0 ± 0.0 (+0.0) | 87.5 ± 3.5 (-2.5) | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.100 ± 0.000 |\n'
        '| retrain | 98.0 ± 0.0 | 92.5 ± 3.5 | 95.0 ± 0.0 | 90.0 ± 0.0 | 0.000 ± 0.000 | 0.0 ± 0.0 | 0.225 ± 0.035 |\n'
        '| jit | 96.8 ± 0.4 (-1.2) | 90.0 ± 7.1 (-2.5) | 95.0 ± 0.0 (+0.0) | 90.0 (+0.0) | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.007 ± 0.000 |\n'
        '| finetune | 98.0 (+0.0) | 100.0 (+7.5) | 93.1 (-1.9) | 90.0 (+0.0) | 0.030 | 5.0 | 0.100 |\n'
        '| emmn | n/a | n/a | n/a | n/a | n/a | n/a | n/a |'
    ),
    'audit': (
        '| method | retain acc % ↑ | forget acc % (→ retrain) | test acc % ↑ | entropy MIA % (→ retrain) | JS forget (↓, vs retrain) | boundary disagree % ↓ | seconds | audit F ↑ (retrain row = floor) | audit final ↑ | mean ε ↓ | U-LiRA acc (→ 0.5) | retain-sample F ↑ |\n'
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
        '| original | 97.8 ± 0.4 (-0.2) | 100.0 ± 0.0 (+7.5) | 95.0 ± 0.0 (+0.0) | 87.5 ± 3.5 (-2.5) | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.100 ± 0.000 | 0.550 ± 0.071 | 0.400 ± 0.000 | 3.250 ± 0.000 | 0.550 ± 0.000 | 0.900 ± 0.000 |\n'
        '| retrain | 98.0 ± 0.0 | 92.5 ± 3.5 | 95.0 ± 0.0 | 90.0 ± 0.0 | 0.000 ± 0.000 | 0.0 ± 0.0 | 0.225 ± 0.035 | 0.550 ± 0.071 | 0.400 ± 0.000 | 3.250 ± 0.000 | 0.550 ± 0.000 | 0.900 ± 0.000 |\n'
        '| jit | 96.8 ± 0.4 (-1.2) | 90.0 ± 7.1 (-2.5) | 95.0 ± 0.0 (+0.0) | 90.0 (+0.0) | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.007 ± 0.000 | 0.550 ± 0.071 | 0.400 ± 0.000 | 3.250 ± 0.000 | 0.550 ± 0.000 | 0.900 ± 0.000 |'
    ),
    'image': (
        '| method | retain acc % ↑ | forget acc % (→ retrain) | test acc % ↑ | entropy MIA % (→ retrain) | loss MIA acc % (→ retrain) | JS to retrain on D_f ↓ | seconds |\n'
        '|---|---|---|---|---|---|---|---|\n'
        '| original | 97.8 ± 0.4 (-0.2) | 100.0 ± 0.0 (+7.5) | 95.0 ± 0.0 (+0.0) | 87.5 ± 3.5 (-2.5) | 50.5 ± 0.7 (+0.0) | 0.030 ± 0.000 | 0.100 ± 0.000 |\n'
        '| retrain | 98.0 ± 0.0 | 92.5 ± 3.5 | 95.0 ± 0.0 | 90.0 ± 0.0 | 50.5 ± 0.7 | 0.000 ± 0.000 | 0.225 ± 0.035 |\n'
        '| jit | 96.8 ± 0.4 (-1.2) | 90.0 ± 7.1 (-2.5) | 95.0 ± 0.0 (+0.0) | 90.0 (+0.0) | 50.5 ± 0.7 (+0.0) | 0.030 ± 0.000 | 0.007 ± 0.000 |\n'
        '| finetune | 98.0 (+0.0) | 100.0 (+7.5) | 93.1 (-1.9) | 90.0 (+0.0) | 50.0 (-0.5) | 0.030 | 0.100 |\n'
        '| emmn | n/a | n/a | n/a | n/a | 50.0 (-0.5) | n/a | n/a |'
    ),
    'no_retrain': (
        '| method | retain acc % ↑ | forget acc % (→ retrain) | test acc % ↑ | entropy MIA % (→ retrain) | JS forget (↓, vs retrain) | boundary disagree % ↓ | seconds |\n'
        '|---|---|---|---|---|---|---|---|\n'
        '| original | 97.8 ± 0.4 | 100.0 ± 0.0 | 95.0 ± 0.0 | 87.5 ± 3.5 | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.100 ± 0.000 |\n'
        '| jit | 96.8 ± 0.4 | 90.0 ± 7.1 | 95.0 ± 0.0 | 90.0 | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.007 ± 0.000 |\n'
        '| finetune | 98.0 | 100.0 | 93.1 | 90.0 | 0.030 | 5.0 | 0.100 |\n'
        '| emmn | n/a | n/a | n/a | n/a | n/a | n/a | n/a |'
    ),
    'retrain_nan': (
        '| method | retain acc % ↑ | forget acc % (→ retrain) | test acc % ↑ | entropy MIA % (→ retrain) | JS forget (↓, vs retrain) | boundary disagree % ↓ | seconds |\n'
        '|---|---|---|---|---|---|---|---|\n'
        '| original | 97.8 ± 0.4 (-0.2) | 100.0 ± 0.0 (+7.5) | 95.0 ± 0.0 (+0.0) | 87.5 ± 3.5 (+nan) | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.100 ± 0.000 |\n'
        '| retrain | 98.0 ± 0.0 | 92.5 ± 3.5 | 95.0 ± 0.0 | n/a | 0.000 ± 0.000 | 0.0 ± 0.0 | 0.225 ± 0.035 |\n'
        '| jit | 96.8 ± 0.4 (-1.2) | 90.0 ± 7.1 (-2.5) | 95.0 ± 0.0 (+0.0) | 90.0 (+nan) | 0.030 ± 0.000 | 5.0 ± 0.0 | 0.007 ± 0.000 |\n'
        '| finetune | 98.0 (+0.0) | 100.0 (+7.5) | 93.1 (-1.9) | 90.0 (+nan) | 0.030 | 5.0 | 0.100 |\n'
        '| emmn | n/a | n/a | n/a | n/a | n/a | n/a | n/a |'
    ),
}
CASES = {'2d': (ROWS_2D, {}), 'audit': (ROWS_AUDIT, {}), 'image': (ROWS_IMAGE, dict(cols=IMAGE_COLUMNS, gap_keys=IMAGE_GAP_KEYS)), 'no_retrain': (ROWS_NO_RETRAIN, {}), 'retrain_nan': (ROWS_RETRAIN_NAN, {})}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_table_is_byte_identical_to_the_previous_implementation_but_for_the_retrain_spread(name):
    rows, kw = CASES[name]
    text = table(rows, **kw)
    spreads = re.findall(r"; ±\d+\.\d\)", text)
    assert bool(spreads) == (name in ("2d", "audit", "image", "retrain_nan"))  # retrain has two seeds there
    assert re.sub(r"; ±\d+\.\d\)", ")", text) == EXPECTED[name]


def test_the_retrain_spread_sits_beside_each_gap():
    by = {s["method"]: s for s in summarize(ROWS_2D)}
    forget = by["jit"]["columns"]["acc_forget"]
    assert forget["retrain_std"] == pytest.approx(np.std([90.0, 95.0], ddof=1))  # retrain's two seeds
    assert by["jit"]["columns"]["js_forget"].get("retrain_std") is None  # no gap, no spread
    assert "| 90.0 ± 7.1 (-2.5; ±3.5) |" in table(ROWS_2D)
    one_retrain = [row for row in ROWS_2D if not (row["method"] == "retrain" and row["seed"] == 1)]
    assert summarize(one_retrain)[2]["columns"]["acc_forget"]["retrain_std"] is None
    assert "| 90.0 ± 7.1 (-0.0) |" in table(one_retrain)


def test_summarize_gives_each_methods_mean_std_count_cell_and_gap():
    summary = summarize(ROWS_2D)
    assert [s["method"] for s in summary] == ["original", "retrain", "jit", "finetune", "emmn"]
    by = {s["method"]: s for s in summary}
    assert list(by["jit"]["columns"]) == ["acc_retain", "acc_forget", "acc_test", "mia", "js_forget",
                                          "boundary_disagreement", "seconds"]
    forget = by["jit"]["columns"]["acc_forget"]
    assert forget["mean"] == pytest.approx(90.0) and forget["n"] == 2
    assert forget["std"] == pytest.approx(np.std([95.0, 85.0], ddof=1))
    assert forget["cell"] == "90.0 ± 7.1" and forget["gap"] == pytest.approx(90.0 - 92.5)
    mia = by["jit"]["columns"]["mia"]  # one of two seeds has a value
    assert (mia["n"], mia["std"], mia["cell"], mia["gap"]) == (1, 0.0, "90.0", pytest.approx(0.0))
    js = by["jit"]["columns"]["js_forget"]  # not a gap column; not a percentage
    assert js["cell"] == "0.030 ± 0.000" and js["gap"] is None and js["mean"] == pytest.approx(0.03)
    assert all(c["gap"] is None for c in by["retrain"]["columns"].values())
    empty = by["emmn"]["columns"]["acc_forget"]
    assert empty["n"] == 0 and empty["cell"] == "n/a" and math.isnan(empty["mean"]) and empty["gap"] is None
    assert by["emmn"]["errors"] == 1 and by["jit"]["errors"] == 0


def test_summarize_without_retrain_has_no_gaps_and_takes_the_image_columns():
    assert all(c["gap"] is None for s in summarize(ROWS_NO_RETRAIN) for c in s["columns"].values())
    image = {s["method"]: s for s in summarize(ROWS_IMAGE, IMAGE_COLUMNS, IMAGE_GAP_KEYS)}
    assert list(image["jit"]["columns"]) == [k for k, _, _ in IMAGE_COLUMNS]
    assert image["finetune"]["columns"]["loss_mia"]["gap"] == pytest.approx(50.0 - 50.5)
    assert {s["method"]: "audit_F" in s["columns"] for s in summarize(ROWS_AUDIT)} == dict.fromkeys(
        ["original", "retrain", "jit"], True)


# --- n/a rows: a class-level method in the random setting ---------------------------------------

def na_row(method, seed):
    return r(method, seed, **{k: nan for k in ("acc_retain", "acc_forget", "acc_test", "mia", "js_forget",
                                                 "boundary_disagreement", "seconds")},
             na="class-level method", error="n/a: class-level method (unsir forgets whole classes)")


def test_na_rows_show_their_reason_in_every_cell_and_leave_other_tables_alone():
    rows = ROWS_2D[:6] + [na_row("unsir", 0), na_row("unsir", 1)]
    by = {s["method"]: s for s in summarize(rows)}
    assert by["unsir"]["na"] == "class-level method" and by["unsir"]["errors"] == 2
    assert all(c["cell"] == "n/a: class-level method" and c["gap"] is None and c["n"] == 0
               for c in by["unsir"]["columns"].values())
    assert "na" not in by["jit"]
    lines = table(rows).splitlines()
    assert lines[-1] == "| unsir | " + " | ".join(["n/a: class-level method"] * 7) + " |"
    assert table(rows).splitlines()[:-1] == table(ROWS_2D[:6]).splitlines()
    # a failed run (an "error" without "na") keeps the plain "n/a"
    assert "n/a: " not in table(ROWS_2D)
    # rows that disagree on the reason (or lack one) fall back to the plain cells
    mixed = summarize([na_row("unsir", 0), dict(na_row("unsir", 1), na=None)])
    assert mixed[0]["columns"]["acc_forget"]["cell"] == "n/a" and "na" not in mixed[0]


def test_the_2d_bench_writes_na_rows_for_class_level_methods_in_the_random_setting():
    problem = make_problem("blobs", n_samples=120, classes=3)
    recipe = ModelRecipe(hidden=(8,), epochs=5)
    rows = run_seed(problem, recipe, 0, "random", ["retrain", "finetune", "unsir", "emmn", "gkt"],
                    {"finetune": {"epochs": 1}}, forget_count=10)
    by = {row["method"]: row for row in rows}
    assert list(by) == ["original", "retrain", "finetune", "unsir", "emmn", "gkt"]
    for m in ("unsir", "emmn", "gkt"):
        assert by[m]["na"] == "class-level method" and by[m]["steps"] == 0 and "n/a: class-level" in by[m]["error"]
        assert set(by[m]) == set(by["finetune"]) | {"na", "error"}
        assert all(math.isnan(by[m][k]) for k in ("acc_retain", "acc_forget", "mia", "seconds"))
    assert "na" not in by["finetune"] and not math.isnan(by["finetune"]["acc_forget"])
    assert table(rows).splitlines()[-1].startswith("| gkt | n/a: class-level method |")
    full = run_seed(problem, recipe, 0, "full_class", ["unsir"], {"unsir": dict(noise_steps=1, impair_epochs=1,
                                                                               repair_epochs=1)}, forget_class=0)
    assert "na" not in full[-1] and full[-1]["steps"] > 0
