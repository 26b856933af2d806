"""The Playground through Streamlit's AppTest (no browser): widget flows, state, URL, failures.

AppTest cannot click Plotly charts (UX.md 3.4), so selection goes through the quick selectors here;
the canvas click and box selection are covered by the browser tests in tests/e2e.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow  # every test here runs the app through AppTest (seconds each)

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SMALL = {"dataset": "moons", "n": "200", "seed": "0", "fit_epochs": "60"}


def start(query=None, timeout=120) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in (query or SMALL).items():
        at.query_params[k] = v
    return at.run()


def button(at, label):
    matches = [b for b in at.button if b.label == label or b.label.startswith(label)]
    assert matches, f"no button {label!r}; have {[b.label for b in at.button]}"
    return matches[0]


def canvas_spec(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_renders_trained_with_nothing_selected():
    at = start()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert ws.trained and len(ws.y) == 200
    assert any("0 points selected" in m.value for m in at.markdown)
    forget = button(at, "Forget with jit")
    assert forget.disabled and "Nothing is selected" in forget.help
    spec = canvas_spec(at)
    assert [t["name"] for t in spec["data"][:4]] == ["confidence", "disagrees with retrain", "boundary", "retrained"]
    assert spec["layout"]["dragmode"] == "pan" and spec["layout"]["clickmode"] == "event+select" and "frames" not in spec
    assert len(at.metric) == 3  # train / test accuracy, forget requests


def test_select_forget_undo_reset_through_widgets():
    at = start()
    at.selectbox(key="q_class").select(1).run()
    button(at, "Select class").click().run()
    ws = at.session_state["workspace"]
    n1 = int((ws.y[ws.train_ids] == 1).sum())
    assert len(ws.selection) == n1
    assert any("whole class" in w.value for w in at.warning)
    at.number_input(key="q_k").set_value(5).run()
    button(at, "Clear selection").click().run()
    button(at, "Select k random").click().run()
    assert len(at.session_state["workspace"].selection) == 5
    button(at, "Forget with jit").click().run()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert len(ws.steps) == 1 and len(ws.forgotten) == 5 and not ws.selection
    spec = canvas_spec(at)
    assert len(spec["frames"]) == len(ws.steps[0].frames) >= 2
    assert spec["layout"]["sliders"][0]["active"] == len(spec["frames"]) - 1
    ghost = spec["data"][3]
    assert ghost["line"]["dash"] == "dash"  # the retrained boundary is on the canvas
    # The oracle is a band of K retrains, computed after the animation and cached for this forget set.
    assert ws.has_retrain_band(8) and spec["data"][1]["zmax"] == 2
    assert any("retrains' range" in m.value and "of 5**" in m.value for m in at.markdown)
    assert any("yellow (retrains split)" in c.value for c in at.caption)
    df = at.dataframe[0].value
    assert list(df.index) == ["original", "unlearned (jit)", "retrained from scratch"]
    assert df.loc["retrained from scratch", "boundary ≠ retrain % ↓"] == "0"
    assert df.loc["original", "method seconds"] == "" and float(df.loc["unlearned (jit)", "method seconds"]) > 0
    assert any("jit** forgot 5 point(s)" in m.value for m in at.markdown)
    # A second request, then undo and reset.
    button(at, "Select k random").click().run()
    button(at, "Forget with jit").click().run()
    assert len(at.session_state["workspace"].steps) == 2
    button(at, "Undo").click().run()
    ws = at.session_state["workspace"]
    assert len(ws.steps) == 1 and len(ws.selection) == 5
    button(at, "Reset").click().run()
    ws = at.session_state["workspace"]
    assert not ws.steps and ws.model is ws.original and "frames" not in canvas_spec(at)


def test_url_state_is_read_clamped_and_written_back():
    at = start({"dataset": "blobs", "classes": "3", "n": "240", "seed": "4", "sigma": "0.4", "method": "jit",
                "width": "32", "fit_epochs": "60", "noise": "abc"})
    assert not at.exception
    assert at.selectbox(key="w_dataset").value == "blobs" and at.slider(key="w_n").value == 240
    assert at.number_input(key="hp_jit_sigma").value == pytest.approx(0.4)
    assert any("noise='abc'" in w.value for w in at.warning)  # the bad value is named
    q = at.query_params
    assert q["dataset"] == "blobs" and q["sigma"] == "0.4" and q["width"] == "32"
    at.number_input(key="hp_jit_sigma").set_value(0.5).run()
    assert at.query_params["sigma"] == "0.5"
    ws = at.session_state["workspace"]
    assert ws.n_classes == 3 and len(ws.y) == 240


def test_classroom_link_hides_controls():
    at = start({**SMALL, "hide": "data,model,hyper"})
    assert not at.exception
    keys = {w.key for w in at.sidebar.selectbox} | {w.key for w in at.sidebar.slider}
    assert "w_dataset" not in keys and "w_n" not in keys and "w_depth" not in keys
    assert not any(w.key and w.key.startswith("hp_jit") for w in at.sidebar.number_input)
    assert "w_method" in {w.key for w in at.sidebar.selectbox}  # not hidden
    assert at.query_params["hide"] == "data,hyper,model"


def test_preset_runs_and_diverging_preset_restores_the_model():
    at = start({**SMALL})
    button(at, "Forget high-information points").click().run()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert ws.problem.dataset == "xor" and len(ws.steps) == 1
    button(at, "Too large a step").click().run()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert not ws.steps and ws.model is ws.original  # restored
    assert any("diverged and was undone" in e.value and "smaller step size" in e.value for e in at.error)
    assert at.number_input(key="hp_jit_lr").value == 10.0


def test_everything_selected_cannot_be_forgotten():
    at = start()
    for c in (0, 1):
        at.selectbox(key="q_class").select(c).run()
        button(at, "Select class").click().run()
    f = button(at, "Forget with jit")
    assert f.disabled and "every remaining training point" in f.help


def test_draw_mode_needs_training_and_other_methods_run():
    at = start()
    at.radio(key="w_source").set_value("Draw").run()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert ws.source == "drawn" and not ws.trained
    assert canvas_spec(at)["data"][4]["name"] == "empty space"  # the click grid for new points
    button(at, "Train").click().run()
    assert at.session_state["workspace"].trained
    at.radio(key="w_source").set_value("Generate").run()
    at.selectbox(key="w_method").select("finetune").run()
    assert at.number_input(key="hp_finetune_epochs").value == 20  # the core's default
    at.number_input(key="hp_finetune_epochs").set_value(2).run()
    button(at, "Select k random").click().run()
    button(at, "Forget with finetune").click().run()
    assert not at.exception
    assert at.session_state["workspace"].steps[-1].method == "finetune"


def test_two_sessions_do_not_share_state():
    a, b = start(), start()
    button(a, "Select k random").click().run()
    button(a, "Forget with jit").click().run()
    wa, wb = a.session_state["workspace"], b.session_state["workspace"]
    assert wa is not wb and wa.original is not wb.original
    assert len(wa.steps) == 1 and not wb.steps and not wb.selection
    assert np.array_equal(wa.X, wb.X)  # same configuration, separate copies


@pytest.mark.parametrize("page", ["Compare methods", "Geometry of forgetting"])
def test_other_pages_render(page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(f"app_pages/{'compare' if page.startswith('Compare') else 'geometry'}.py").run()
    assert not at.exception


def test_every_method_shows_its_own_summary_and_widgets():
    from unlearn_core import METHODS
    at = start()
    at.selectbox(key="w_method").select("ssd").run()
    assert not at.exception
    captions = [c.value for c in at.sidebar.caption]
    assert METHODS["ssd"].summary in captions
    assert not any("Retraining from scratch repeats" in c for c in captions)
    assert at.number_input(key="hp_ssd_alpha").value == METHODS["ssd"].defaults()["alpha"]
    at.number_input(key="hp_ssd_lam").set_value(2.0).run()
    assert at.query_params["lam"] == "2"
    at.selectbox(key="w_method").select("jit").run()
    assert METHODS["jit"].summary in [c.value for c in at.sidebar.caption]
    assert at.selectbox(key="hp_jit_normalize_step").value == "first"
    at.selectbox(key="hp_jit_normalize_step").select("off").run()
    assert not at.exception and at.query_params["normalize_step"] == "off"
    at.selectbox(key="w_method").select("finetune").run()
    at.selectbox(key="w_method").select("jit").run()  # back: the defaults, not the widgets' minimum
    assert at.number_input(key="hp_jit_sigma").value == METHODS["jit"].defaults()["sigma"]
