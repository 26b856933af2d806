"""The Compare page: its numbers (ui/state/compare.py), figures (ui/views/compare.py), the page through AppTest."""
import json
import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui.state.compare as compare
from conftest import snapshot
from ui.state.compare import (GAP_METRICS, METRIC_COLUMNS, boundary_layers, comparison_table, expected_steps,
                              gap_frame, hyperparameters_for, result_key, run_comparison, scenario_ids,
                              validate_forget)
from ui.state.workspace import new_workspace
from ui.views.compare import boundary_figures, gap_figure
from unlearn_core import METHODS, unlearn
from unlearn_core.problem import choose_forget

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "compare.py"


def small_workspace(dataset="moons", seed=0):
    ws = new_workspace(dataset, n_samples=200, seed=seed)
    ws.model_cfg.epochs = 30
    ws.train()
    return ws


@pytest.fixture(scope="module")
def ws():
    return small_workspace()


@pytest.fixture(scope="module")
def run(ws):
    """jit and finetune on 10 random training points, with every progress call recorded."""
    ids = scenario_ids(ws, "random", forget_count=10, seed=0)
    before = snapshot(ws.original)
    calls = []
    comp = run_comparison(ws, ids, ["jit", "finetune"], progress=lambda *a: calls.append(a))
    return dict(ids=ids, comp=comp, calls=calls, before=before)


def test_table_has_a_row_per_model_and_metric_columns_with_directions(run):
    df = comparison_table(run["comp"])
    assert list(df.index) == ["original", "retrain", "jit", "finetune"]
    for _, col, _ in METRIC_COLUMNS:
        assert col in df.columns
        assert any(mark in col for mark in ("↑", "↓", "→ retrain"))
    for col in GAP_METRICS.values():
        assert col in df.columns
    cols = list(df.columns)  # each gap right after its metric; seconds before the distances
    assert cols[:4] == ["retain acc % ↑", "Δ retain", "forget acc % (→ retrain)", "Δ forget"]
    assert cols.index("seconds") < cols.index("JS forget ↓")
    assert (df["status"].loc[["jit", "finetune"]] == "ok").all()
    assert df[[c for _, c, _ in METRIC_COLUMNS]].loc[["jit", "finetune"]].notna().all().all()


def test_retrain_gaps_are_zero_and_gaps_are_method_minus_retrain(run):
    comp = run["comp"]
    df = comparison_table(comp)
    for key, col in GAP_METRICS.items():
        assert df.loc["retrain", col] == 0.0
        for name in ["original", "jit", "finetune"]:
            m = comp.original_metrics if name == "original" else comp.runs[name].metrics
            assert df.loc[name, col] == pytest.approx(100 * (m[key] - comp.reference.metrics[key]))
    # the distances to the retrained model are zero for the retrained model itself
    assert df.loc["retrain", "boundary disagree % ↓"] == 0.0
    assert df.loc["retrain", "JS forget ↓"] == pytest.approx(0.0, abs=1e-6)


def test_seconds_are_the_methods_own_time(run):
    df = comparison_table(run["comp"])
    assert math.isnan(df.loc["original", "seconds"])
    for name in ["retrain", "jit", "finetune"]:
        assert df.loc[name, "seconds"] > 0
    # JiT on 10 points takes a few steps; fine-tuning on the retain set takes many
    assert df.loc["jit", "steps"] < df.loc["finetune", "steps"]


def test_original_untouched_and_forget_set_kept(ws, run):
    now = snapshot(ws.original)
    assert now.keys() == run["before"].keys() and all(torch.equal(now[k], run["before"][k]) for k in now)
    assert run["comp"].forget_ids.tolist() == sorted(run["ids"].tolist())
    assert run["comp"].original is ws.original


def test_progress_covers_every_step_of_every_method(run):
    comp, calls = run["comp"], run["calls"]
    steps = comp.reference.steps + sum(r.steps for r in comp.runs.values())
    assert len(calls) == steps
    done = [c[0] for c in calls]
    assert done == sorted(done) and done[-1] == calls[-1][1]  # monotone and ends full
    assert [c[2] for c in calls] == ["retrain"] * comp.reference.steps + ["jit"] * comp.runs["jit"].steps \
        + ["finetune"] * comp.runs["finetune"].steps


EXACT_STEPS = ["jit", "retrain", "finetune", "neggrad_plus", "random_label", "ssd", "lf_ssd"]


@pytest.mark.parametrize("method", EXACT_STEPS)
def test_expected_steps_match_the_real_runs(ws, method):
    ids, retain = validate_forget(ws, ws.train_ids[:7])
    hp = hyperparameters_for([method])[method]
    res = unlearn(method, ws.original, forget=ws.pairs(ids), retain=ws.pairs(retain), device="cpu", **hp)
    assert expected_steps(method, hp, len(ids), len(retain), ws.original) == len(res.history)


@pytest.mark.parametrize("method", [m for m in METHODS if m not in EXACT_STEPS])
def test_expected_steps_is_a_positive_estimate_for_the_other_baselines(ws, method):
    # Their step counts depend on gating or noise phases, so the progress bar gets an estimate and is
    # re-synchronised after each method (run_comparison); it must at least be a positive count.
    hp = hyperparameters_for([method])[method]
    assert expected_steps(method, hp, 7, 143, ws.original) >= 1


def test_grid_with_the_retrain_band_marks_where_retrains_split(ws, run):
    comp = run["comp"]
    band = ws.retrain_band(3, comp.forget_ids)  # 3 retrains of a 200-point toy: fast
    assert ws.has_retrain_band(3, comp.forget_ids) and band.ids.tolist() == comp.forget_ids.tolist()
    layers = dict(boundary_layers(ws, comp, band))
    for name, lay in layers.items():
        assert np.array_equal(lay.ghost_cls, band.majority()) and np.array_equal(lay.ghost_agreed, band.agreed())
        assert set(np.unique(lay.disagreement()).tolist()) <= {0, 1, 2}
    split = ~band.agreed()
    assert np.all(layers["retrain"].disagreement()[split] == 2)


def test_grid_has_one_figure_per_model_with_the_retrained_ghost(ws, run):
    comp = run["comp"]
    panels = boundary_figures(ws, boundary_layers(ws, comp), forgotten=comp.forget_ids)
    assert [n for n, _ in panels] == ["original", "retrain", "jit", "finetune"]
    for name, fig in panels:
        fig = go.Figure(fig)  # figure_for may give a figure dict
        names = [t.name for t in fig.data]
        ghost = fig.data[names.index("retrained")]
        if name == "retrain":
            assert ghost.line.width == 0  # no ghost of itself
        else:
            assert ghost.line.dash == "dash"
        forgotten = fig.data[names.index("forgotten")]
        assert sorted(forgotten.customdata.tolist()) == comp.forget_ids.tolist()
        assert "selected" not in names


def test_gap_figure_has_bars_for_original_and_methods(run):
    fig = gap_figure(gap_frame(run["comp"]))
    assert [t.name for t in fig.data] == ["original", "jit", "finetune"]
    jit = fig.data[1]
    df = comparison_table(run["comp"])
    assert list(jit.y)[:4] == pytest.approx([df.loc["jit", c] for c in GAP_METRICS.values()])


def test_bad_forget_sets_raise_clear_errors(ws):
    with pytest.raises(ValueError, match="forget set is empty"):
        validate_forget(ws, [])
    with pytest.raises(ValueError, match="whole training set"):
        validate_forget(ws, ws.train_ids)
    with pytest.raises(ValueError, match="not training points"):
        validate_forget(ws, ws.test_ids[:2])
    calls = []
    with pytest.raises(ValueError, match="forget set is empty"):
        run_comparison(ws, [], ["jit"], progress=lambda *a: calls.append(a))
    assert calls == []  # nothing ran


def test_scenario_ids_are_global_training_ids(ws):
    ids = scenario_ids(ws, "full_class", forget_class=1)
    rows = choose_forget("full_class", ws.problem, ws.original, 0, forget_class=1)
    assert ids.tolist() == sorted(ws.train_ids[rows].tolist())
    assert np.isin(ids, ws.train_ids).all() and (ws.y[ids] == 1).all()


def test_result_key_depends_on_set_methods_and_hyperparameters(ws):
    k = result_key(ws, [3, 1, 2], ["jit", "finetune"])
    assert k == result_key(ws, [1, 2, 3, 3], ["jit", "finetune"])
    assert k != result_key(ws, [1, 2], ["jit", "finetune"])
    assert k != result_key(ws, [1, 2, 3], ["jit"])
    assert k != result_key(ws, [1, 2, 3], ["jit", "finetune"], {"jit": {"sigma": 0.5}})
    assert k == result_key(ws, [1, 2, 3], ["jit", "finetune"], {"jit": {"sigma": METHODS["jit"].defaults()["sigma"]}})
    with pytest.raises(ValueError, match="no hyperparameter"):
        result_key(ws, [1], ["jit"], {"jit": {"sigmaa": 1.0}})


def test_a_diverging_or_collapsing_method_is_reported_not_raised(ws, monkeypatch):
    real = compare.unlearn

    def fake(method, model, **kw):
        if method == "finetune":  # a NaN loss on the first step
            kw["callback"](1, float("nan"), model)
        res = real(method, model, **kw)
        if method == "jit":  # collapse: every input goes to class 0
            last = [m for m in res.model.modules() if isinstance(m, torch.nn.Linear)][-1]
            with torch.no_grad():
                last.weight.zero_()
                last.bias.copy_(torch.tensor([5.0, -5.0]))
        return res

    monkeypatch.setattr(compare, "unlearn", fake)
    comp = run_comparison(ws, ws.train_ids[:5], ["jit", "finetune", "neggrad_plus"])
    assert not comp.runs["jit"].ok and "collapsed" in comp.runs["jit"].error
    assert not comp.runs["finetune"].ok and "nan" in comp.runs["finetune"].error
    assert comp.runs["neggrad_plus"].ok
    df = comparison_table(comp)
    assert df.loc["jit", "status"].startswith("diverged") and math.isnan(df.loc["jit", "Δ forget"])
    panels = dict(boundary_figures(ws, boundary_layers(ws, comp), forgotten=comp.forget_ids))
    assert panels["jit"] is None and panels["finetune"] is None and panels["neggrad_plus"] is not None


# --- the page --------------------------------------------------------------------------------------

def _page_with(ws=None):
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    if ws is not None:
        at.session_state["workspace"] = ws
    return at.run()


@pytest.mark.slow
def test_page_uses_the_playground_selection_and_runs(ws):
    ws.selection = set(ws.train_ids[:6].tolist())
    try:
        at = _page_with(ws)
        assert not at.exception
        assert "What to look for" in at.markdown[0].value
        assert at.radio[0].value == "selection"
        assert len(at.dataframe) == 0
        at.multiselect[0].set_value(["jit", "finetune"])
        at.button(key="compare_run").click().run()
        assert not at.exception
        df = at.dataframe[0].value
        assert list(df.index) == ["original", "retrain", "jit", "finetune"]
        assert "compare_ws" not in at.session_state  # used the Playground's workspace
        charts = at.get("plotly_chart")
        assert len(charts) == 4 + 1  # the grid and the gap chart
        spec = json.loads(charts[2].proto.spec)
        forgotten = [t for t in spec["data"] if t.get("name") == "forgotten"][0]
        cd = forgotten["customdata"]
        ids = np.frombuffer(__import__("base64").b64decode(cd["bdata"]), cd["dtype"]) if isinstance(cd, dict) else cd
        assert sorted(int(i) for i in ids) == sorted(ws.selection)
        # a rerun shows the stored result without running again
        stored = at.session_state["compare_results"]
        at.run()
        assert len(at.dataframe) == 1 and at.session_state["compare_results"] is stored
    finally:
        ws.selection = set()


def test_page_with_an_empty_selection_says_so_and_runs_nothing(ws):
    at = _page_with(ws)
    at.radio[0].set_value("selection").run()
    assert not at.exception
    assert any("forget set is empty" in e.value for e in at.error)
    assert len(at.button) == 0 and len(at.dataframe) == 0


@pytest.mark.slow
def test_page_trains_its_own_workspace_when_the_playground_has_none():
    at = _page_with()
    assert not at.exception
    assert "workspace" not in at.session_state and "compare_ws" in at.session_state
    at.selectbox(key="compare_setting").select("random").run()
    at.multiselect[0].set_value(["jit"])
    at.button(key="compare_run").click().run()
    assert not at.exception
    assert list(at.dataframe[0].value.index) == ["original", "retrain", "jit"]
    # other JiT hyperparameters: the stored result no longer applies until Run is pressed again
    at.number_input(key="compare_jit_sigma").set_value(0.5).run()
    assert not at.exception and len(at.dataframe) == 0
    assert any("Press **Run**" in i.value for i in at.info)


@pytest.mark.slow
def test_page_shows_a_diverging_method_in_its_panel(ws):
    at = _page_with(ws)
    at.selectbox(key="compare_setting").select("random").run()
    at.multiselect[0].set_value(["jit", "finetune"])
    at.number_input(key="compare_jit_lr").set_value(1.0)  # one unit-length step per batch: jit collapses
    at.button(key="compare_run").click().run()
    assert not at.exception
    assert any("collapsed" in e.value for e in at.error)
    df = at.dataframe[0].value
    assert list(df.index) == ["original", "retrain", "jit", "finetune"]
    assert df.loc["jit", "status"].startswith("diverged") and df.loc["finetune", "status"] == "ok"
    assert len(at.get("plotly_chart")) == 3 + 1  # no panel for jit, the others and the gap chart
