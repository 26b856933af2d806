"""The Forgetting audit page: its numbers (ui/state/audit.py), figures (ui/views/audit.py), the page (AppTest).

Small everywhere: 200 points, K = 8 models per sample, short training. AppTest cannot click Plotly
(UX.md 3.4), so a canvas click is injected as the chart's selection state; the real click is in
tests/e2e/test_audit_browser.py.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.state import audit
from ui.state.compare import scenario_ids
from ui.state.workspace import new_workspace
from ui.views import audit as audit_views
from unlearn_core import MLP
from unlearn_core.audit import Threshold, run_audit

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = "app_pages/audit.py"
#: The two reference rows' labels: floor and ceiling name epsilon's range, and say which is best in F.
FLOOR_LABEL = "retrain again (ε floor: the best F K models show)"
CEILING_LABEL = "original, not unlearned (ε ceiling: F of doing nothing)"
SMALL = {"dataset": "moons", "n": "200", "seed": "0", "fit_epochs": "60"}
K = 8


@pytest.fixture(scope="module")
def ws():
    w = new_workspace("moons", n_samples=200, seed=0)
    w.model_cfg.epochs = 30
    w.train()
    return w


@pytest.fixture(scope="module")
def ids(ws):
    return scenario_ids(ws, "random", forget_count=10, seed=0)


@pytest.fixture(scope="module")
def result(ws, ids):
    calls = []
    r = run_audit(**audit.audit_inputs(ws, ids), K=K, methods=["jit", "finetune"],
                  progress=lambda stage, f: calls.append((stage, f)), protocol="originals")
    r.calls = calls
    return r


@pytest.fixture(scope="module")
def challenge(ws, ids):
    """The challenge's protocol with a deterministic method: SSD's K copies stay identical."""
    return run_audit(**audit.audit_inputs(ws, ids), K=K, methods=["jit", "ssd"], protocol="challenge")


# --- inputs, keys ----------------------------------------------------------------------------------

def test_audit_inputs_map_global_ids_to_training_rows(ws, ids):
    kw = audit.audit_inputs(ws, ids[::-1])
    X, y = kw["train"]
    assert len(X) == len(ws.train_ids)
    rows = kw["forget_rows"]
    assert np.array_equal(ws.train_ids[rows], np.sort(ids))
    assert np.array_equal(X[rows], ws.X[np.sort(ids)]) and np.array_equal(y[rows], ws.y[np.sort(ids)])
    assert np.array_equal(kw["test"][0], ws.X[ws.test_ids])
    cfg = ws.model_cfg
    assert kw["recipe"] == dict(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size) and kw["seed"] == cfg.seed
    a, b = kw["make_model"](3), MLP(2, ws.n_classes, (cfg.width,) * cfg.depth, cfg.activation, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_bad_forget_sets_are_refused_with_a_reason(ws):
    with pytest.raises(ValueError, match="empty"):
        audit.audit_inputs(ws, [])
    with pytest.raises(ValueError, match="not training points"):
        audit.audit_inputs(ws, [int(ws.test_ids[0])])
    with pytest.raises(ValueError, match="whole training set"):
        audit.audit_inputs(ws, ws.train_ids)


def test_jit_overrides_keep_only_changes():
    assert audit.jit_overrides({"sigma": 0.25, "lr": 0.1, "normalize_step": "first"}) == {}
    assert audit.jit_overrides({"sigma": 0.5, "normalize_step": "off"}) == {"sigma": 0.5, "normalize_step": "off"}


def test_cache_key_changes_with_each_input(ws, ids):
    base = audit.cache_key(ws, ids, ["jit"], {}, 8)
    assert base == audit.cache_key(ws, list(ids[::-1]), ["jit"], {"jit": {}}, 8)
    assert base == audit.cache_key(ws, ids, ["jit"], {"jit": {"sigma": 0.25}}, 8)  # the default
    others = [audit.cache_key(ws, ids[1:], ["jit"], {}, 8), audit.cache_key(ws, ids, ["jit", "finetune"], {}, 8),
              audit.cache_key(ws, ids, ["jit"], {"jit": {"sigma": 0.5}}, 8), audit.cache_key(ws, ids, ["jit"], {}, 16)]
    assert len({base, *others}) == 5
    w2 = new_workspace("moons", n_samples=200, seed=1)
    assert audit.cache_key(w2, ids, ["jit"], {}, 8)[0] != base[0]  # other data, other identity
    hash(base)
    # the protocol is part of the key, and the page's default is the challenge's
    assert base[-1] == audit.DEFAULT_PROTOCOL == "challenge" and set(audit.PROTOCOLS) == {"challenge", "originals"}
    assert audit.cache_key(ws, ids, ["jit"], {}, 8, "cpu", "originals") != base
    assert audit.cache_key(ws, ids, ["jit"], {}, 8, "cpu", "challenge") == base


def test_progress_text_and_time_estimate():
    assert audit.progress_text("original", 64, "originals") == "Training 64 original models at once…"
    assert audit.progress_text("original", 64) == "Training the original model…"
    assert audit.progress_text("retrain", 64).startswith("Retraining 128 models without the forget set")
    assert audit.progress_text("jit", 64, "originals").startswith("Unlearning with jit")
    assert audit.progress_text("jit", 64).startswith("Unlearning 64 copies of the original with jit")
    t = [audit.estimate_seconds(k, 450, 200, protocol="originals") for k in audit.K_CHOICES]
    assert t == sorted(t) and 15 < audit.estimate_seconds(64, 450, 200, protocol="originals") < 35
    assert audit.estimate_seconds(64, 450, 200) < audit.estimate_seconds(64, 450, 200, protocol="originals")
    assert audit.n_trained(64) == 129 and audit.n_trained(64, "originals") == 192


# --- what a result shows ---------------------------------------------------------------------------

def test_summary_table_rows_columns_and_directions(result):
    df = audit.summary_table(result)
    assert list(df.index) == [CEILING_LABEL, FLOOR_LABEL, "jit", "finetune"]
    assert [c for _, c, _ in audit.COLUMNS] + [audit.NOTE] == list(df.columns)
    assert not df[audit.NOTE].any()  # K different originals: every row has a spread
    for col in df.columns:
        assert col in ("seconds", "retain acc %", "forget acc %", "test acc %", "worst model's test acc %",
                       audit.NOTE) or any(mark in col for mark in ("↑", "↓", "→ 0.5"))
    assert df.loc["jit", "forget quality F (↑, 1 = like retrain)"] == pytest.approx(result.scores["jit"].F)
    assert df.loc["jit", "test acc %"] == pytest.approx(100 * result.scores["jit"].acc_test)
    assert df.loc["jit", "worst model's test acc %"] <= df.loc["jit", "test acc %"] + 1e-9
    assert math.isnan(df.loc[FLOOR_LABEL, "seconds"]) and df.loc["jit", "seconds"] > 0
    assert result.calls[-1][1] == pytest.approx(1.0) and {s for s, _ in result.calls} == {"original", "retrain", "jit",
                                                                                          "finetune"}


def test_findings_say_when_a_method_is_worse_than_doing_nothing(result):
    lines = audit.findings(result)
    assert len(lines) == 2 and lines[0].startswith("**jit**") and "retraining again reaches" in lines[0]
    jit = result.scores["jit"]
    saved = jit.F
    try:
        jit.F = result.scores["original"].F - 0.01
        assert "Worse than not unlearning at all" in audit.findings(result)[0]
        jit.F = result.scores["retrain"].F
        assert "at the floor" in audit.findings(result)[0]
    finally:
        jit.F = saved


def test_challenge_protocol_notes_the_rows_without_spread(challenge):
    assert challenge.protocol == "challenge"
    ssd, ceiling = challenge.scores["ssd"], challenge.scores[audit.CEILING]
    assert ssd.no_spread and ceiling.no_spread and not challenge.scores["jit"].no_spread
    assert np.all(ssd.eps == 50) and np.all(ceiling.eps == 50) and ssd.F == 0 == ceiling.F
    df = audit.summary_table(challenge)
    notes = df[audit.NOTE]
    assert "deterministic" in notes["ssd"] and "ε = 50 by construction" in notes["ssd"]
    assert "copies of one model" in notes[CEILING_LABEL]
    assert notes["jit"] == "" and notes[FLOOR_LABEL] == ""
    (note,) = audit.protocol_notes(challenge)
    assert "ssd" in note and "ceiling" in note and "by construction" in note and audit.PROTOCOLS["originals"] in note
    lines = {line.split("**")[1]: line for line in audit.findings(challenge)}
    assert "No spread" in lines["ssd"] and "deterministic" in lines["ssd"]
    assert "No spread" not in lines["jit"] and "Worse than not unlearning" not in lines["jit"]


def test_epsilon_figure_colours_the_audited_points(ws, result):
    f_ids, r_ids = audit.audited_ids(ws, result)
    fig = audit_views.epsilon_figure(ws, audit.epsilon_view(ws, result, "jit"), ws.layers(ws.original),
                                     chosen=int(f_ids[2]))
    by_name = {t.get("name"): t for t in fig["data"]}
    forget, retain = by_name["forget point"], by_name["retained (audited sample)"]
    assert list(forget["customdata"]) == f_ids.tolist() and list(retain["customdata"]) == r_ids.tolist()
    assert np.allclose(forget["marker"]["color"], result.scores["jit"].eps)
    assert forget["marker"]["coloraxis"] == retain["marker"]["coloraxis"] == "coloraxis"
    ca = fig["layout"]["coloraxis"]
    assert ca["cmin"] == 0 and ca["cmax"] == result.eps_max == 2
    assert ca["colorbar"]["ticktext"][-1] == "≥2"
    assert "ε = " in forget["text"][0] and "points" in forget["text"][0]
    clickable = [t["name"] for t in fig["data"] if t.get("customdata") is not None]
    assert clickable == ["retained (audited sample)", "forget point"]
    ring = by_name["shown on the right"]
    assert ring["x"] == [float(ws.X[f_ids[2], 0])] and ring["hoverinfo"] == "skip"
    assert fig["layout"]["dragmode"] == "pan" and fig["layout"]["clickmode"] == "event+select"
    assert [t["name"] for t in fig["data"][:3]] == ["confidence", "disagrees with retrain", "boundary"]


def test_point_view_for_forget_and_retain_points(ws, result):
    f_ids, r_ids = audit.audited_ids(ws, result)
    v = audit.point_view(ws, result, "jit", int(f_ids[0]))
    assert v.kind == "forget" and v.K == K and v.unlearned.shape == v.retrained.shape == v.original.shape == (K,)
    assert v.eps == pytest.approx(result.scores["jit"].eps[0])
    assert np.allclose(v.retrained, result.reference["conf_forget"][:, 0])
    r = audit.point_view(ws, result, "retrain", int(r_ids[1]))
    assert r.kind == "retain" and r.eps == pytest.approx(result.scores["retrain"].eps_retain[1])
    assert r.method_label == FLOOR_LABEL
    with pytest.raises(KeyError):
        audit.point_view(ws, result, "jit", int(ws.test_ids[0]))
    text = audit_views.point_summary(v)
    assert f"#{v.point_id}" in text and "ε = " in text and "U-LiRA" in text


def test_histogram_figure_draws_the_winning_rule():
    rng = np.random.default_rng(0)
    u, r, o = rng.normal(0, 1, 16), rng.normal(3, 1, 16), rng.normal(1, 1, 16)
    single = audit.PointView(5, "forget", 1, "jit", "jit", 16, u, r, o, 2.3, 0.0625,
                             Threshold("single", None, 1.5, "retrained", 0.1, 0.2), 0.8, 3.0)
    fig = audit_views.histogram_figure(single)
    assert fig["layout"]["barmode"] == "overlay"
    assert [t["type"] for t in fig["data"]] == ["histogram"] * 3
    assert {t["xbins"]["size"] for t in fig["data"]} == {fig["data"][0]["xbins"]["size"]}  # shared bins
    assert [s["type"] for s in fig["layout"]["shapes"]] == ["line"] and fig["layout"]["shapes"][0]["x0"] == 1.5
    band = audit.PointView(5, "forget", 1, "jit", "jit", 16, u, r, o, 2.3, 0.0625,
                           Threshold("band", -1.0, 1.0, "unlearned", 0.1, 0.2), 0.8, 3.0)
    shapes = audit_views.histogram_figure(band, show_original=False)["layout"]["shapes"]
    assert [s["type"] for s in shapes] == ["rect", "line", "line"] and (shapes[0]["x0"], shapes[0]["x1"]) == (-1, 1)
    spread = audit.PointView(5, "forget", 1, "jit", "jit", 16, u, r, o, 50.0, 0.0, None, 1.0, 3.0)
    assert audit_views.histogram_figure(spread)["layout"]["shapes"] == []
    assert "perfectly separable" in audit_views.rule_text(None, 50.0)
    assert "“retrained”" in audit_views.rule_text(single.threshold, 2.3)
    floor_rule = Threshold("single", None, 1.5, "unlearned", 0.9, 0.02)
    assert "“retrained again”" in audit_views.rule_text(floor_rule, 1.4, "retrain")  # the floor's second retrain
    assert "“original”" in audit_views.rule_text(floor_rule, 1.4, "original")


def test_pick_point_and_default(ws, result):
    f_ids, r_ids = audit.audited_ids(ws, result)
    big = audit.default_point(ws, result, "jit")
    assert big == int(f_ids[np.argmax(result.scores["jit"].eps)])
    click = {"selection": {"points": [{"customdata": int(r_ids[0]), "curve_number": 9}]}}
    assert audit.pick_point(click, ws, result, big) == int(r_ids[0])
    not_audited = {"selection": {"points": [{"customdata": int(ws.test_ids[0])}]}}
    assert audit.pick_point(not_audited, ws, result, big) == big
    assert audit.pick_point(None, ws, result, None) is None
    assert audit.pick_point(None, ws, result, int(ws.test_ids[0])) is None  # a stale id from another audit


# --- the page through AppTest ----------------------------------------------------------------------

def start_on_playground(query=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (query or SMALL).items():
        at.query_params[k] = v
    return at.run()


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.mark.slow
def test_page_runs_an_audit_caches_it_and_shows_a_clicked_point():
    at = start_on_playground({**SMALL, "method": "jit", "sigma": "0.4"})
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Forgetting audit"
    assert at.number_input(key="audit_jit_sigma").value == pytest.approx(0.4)  # the Playground's JiT settings
    assert at.radio(key="audit_source").value == "scenario"  # nothing selected or forgotten on the Playground
    assert at.select_slider(key="audit_K").value == audit.DEFAULT_K
    assert at.radio(key="audit_protocol").value == "challenge"
    at.select_slider(key="audit_K").set_value(K).run()
    assert any("Press **Run the audit**" in i.value for i in at.info)
    at.button(key="audit_run").click().run()
    assert not at.exception, at.exception
    store = at.session_state["audit_results"]
    assert len(store) == 1
    (key, result), = store.items()
    assert result.K == K and list(result.scores) == ["jit", "retrain", "original"]
    assert result.protocol == "challenge" and key[-1] == "challenge"
    assert any(f"No spread: {CEILING_LABEL}" in i.value for i in at.info)
    assert dict(dict(key[3])["jit"])["sigma"] == "0.4"
    ws = at.session_state["workspace"]
    f_ids, _ = audit.audited_ids(ws, result)
    assert len(f_ids) == 20
    canvas, hist = charts(at)[:2]
    forget = next(t for t in canvas["data"] if t.get("name") == "forget point")
    assert len(forget["customdata"]["bdata"] if isinstance(forget["customdata"], dict) else forget["customdata"]) > 0
    assert hist["layout"]["barmode"] == "overlay"
    big = audit.default_point(ws, result, "jit")
    assert at.session_state["audit_point"] == big
    assert any(f"Forget point #{big}**" in m.value for m in at.markdown)
    df = at.table[0].value
    assert list(df.index) == [CEILING_LABEL, FLOOR_LABEL, "jit"]
    assert any("bounded by the floor row" in c.value for c in at.caption)
    # A click (injected as the chart's selection state) shows another point, without recomputing.
    other = int(next(i for i in f_ids if i != big))
    at.session_state["audit_canvas"] = {"selection": {"points": [{"customdata": other}]}}
    at.run()
    assert not at.exception
    assert at.session_state["audit_point"] == other
    assert any(f"Forget point #{other}**" in m.value for m in at.markdown)
    # The floor, the ceiling, Run again: all from the cache.
    at.selectbox(key="audit_show").select("retrain").run()
    assert any(FLOOR_LABEL in m.value for m in at.markdown)
    at.button(key="audit_run").click().run()
    assert at.session_state["audit_results"][key] is result and len(at.session_state["audit_results"]) == 1
    # The other protocol is another audit, cached beside the first; back to the challenge: from the cache.
    at.radio(key="audit_protocol").set_value("originals").run()
    at.button(key="audit_run").click().run()
    assert not at.exception
    store = at.session_state["audit_results"]
    assert len(store) == 2 and {k[-1] for k in store} == {"challenge", "originals"}
    other = next(r for k, r in store.items() if k[-1] == "originals")
    assert other.protocol == "originals" and not other.scores["original"].no_spread
    at.radio(key="audit_protocol").set_value("challenge").run()
    assert at.session_state["audit_results"][key] is result and len(at.session_state["audit_results"]) == 2


@pytest.mark.slow
def test_page_validates_the_forget_set():
    at = start_on_playground()
    at.switch_page(PAGE).run()
    at.radio(key="audit_source").set_value("selection").run()
    run = at.button(key="audit_run")
    assert run.disabled and "Nothing is selected" in run.help
    # Everything selected on the Playground: an error, no button, nothing run.
    at = start_on_playground()
    for c in (0, 1):
        at.selectbox(key="q_class").select(c).run()
        next(b for b in at.button if b.label.startswith("Select class")).click().run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.radio(key="audit_source").value == "selection"
    assert any("whole training set" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "audit_run"]
    assert not at.session_state["audit_results"] if "audit_results" in at.session_state else True


@pytest.mark.slow
def test_page_trains_its_own_workspace_and_reports_a_diverged_method():
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120).run()  # no Playground: the page's own data
    assert not at.exception
    assert any("trains its own" in c.value for c in at.caption)
    at.slider(key="audit_points").set_value(200).run()
    at.select_slider(key="audit_K").set_value(K).run()
    at.slider(key="audit_count").set_value(5).run()
    # JiT with a plain SGD step of 10 and a wide noise blows the models up: a clear error for JiT; the
    # floor and the ceiling (which do not depend on it) are still shown.
    at.number_input(key="audit_jit_lr").set_value(10.0)
    at.number_input(key="audit_jit_sigma").set_value(2.0)
    at.number_input(key="audit_jit_batch_size").set_value(1)
    at.number_input(key="audit_jit_epochs").set_value(5)
    at.selectbox(key="audit_jit_normalize_step").select("off").run()
    at.button(key="audit_run").click().run()
    assert not at.exception
    assert any("jit could not be scored" in e.value and "smaller step" in e.value for e in at.error)
    (failed,) = at.session_state["audit_results"].values()
    assert "jit" in failed.errors and "jit" not in failed.scores and {"retrain", "original"} <= set(failed.scores)
    # Back to sane settings: it runs on the page's own 200 points.
    at.number_input(key="audit_jit_lr").set_value(0.1)
    at.number_input(key="audit_jit_sigma").set_value(0.25)
    at.number_input(key="audit_jit_batch_size").set_value(4)
    at.number_input(key="audit_jit_epochs").set_value(1)
    at.selectbox(key="audit_jit_normalize_step").select("first").run()
    at.button(key="audit_run").click().run()
    assert not at.exception and not at.error
    result = list(at.session_state["audit_results"].values())[-1]
    assert "jit" in result.scores and not result.errors
    assert len(result.forget_rows) == 5 and len(at.session_state["audit_ws"]["ws"].y) == 200
