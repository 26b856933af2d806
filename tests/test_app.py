"""The Playground through Streamlit's AppTest (no browser): widget flows, state, URL, failures.

AppTest runs no JavaScript, so selection goes through the quick selectors (and canvas events injected as
the component would send them) here; the canvas' clicks, box, lasso, zoom and playback are covered by the
browser tests in tests/e2e.
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


def canvas_data(at) -> dict:
    """The data the canvas component was mounted with (ui/views/canvas_payload.py)."""
    found = [e for e in at.get("bidi_component") if e.proto.component_name == "jit_playground_canvas"]
    assert found, "no canvas component on the page"
    return json.loads(found[0].proto.json)


def test_renders_trained_with_nothing_selected():
    at = start()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert ws.trained and len(ws.y) == 200
    assert any("0 points selected" in m.value for m in at.markdown)
    forget = button(at, "Forget with jit")
    assert forget.disabled and "Nothing is selected" in forget.help
    data = canvas_data(at)
    assert data["mode"] == "select" and data["interactive"] and data["selection"] == []
    assert len(data["frames"]) == 1 and data["run"] == "" and data["ghost"] is None  # the model, no animation yet
    assert data["res"] == ws.gridspec.resolution and len(data["colors"]) == ws.n_classes
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
    data = canvas_data(at)
    assert len(data["frames"]) == len(ws.steps[0].frames) >= 11  # a watchable run: >= 10 real optimiser steps
    assert data["steps"] == ws.steps[0].frame_steps and data["steps"][0] == 0 and data["run"] and data["autoplay"]
    assert ws.steps[0].hyperparameters["batch_size"] == 1  # stretched; the values used are recorded
    assert data["ghost"] is not None  # the retrained boundary is on the canvas
    # The oracle is a band of K retrains, computed after the animation and cached for this forget set.
    assert ws.has_retrain_band(8) and data["agreed"] is not None
    assert any("Hyperparameters used: `batch_size` 1" in c.value for c in at.caption)
    assert any("retrains' range" in m.value and "of 5**" in m.value for m in at.markdown)
    assert any("yellow (retrains split)" in c.value for c in at.caption)
    df = at.dataframe[0].value
    assert list(df.index) == ["original", "unlearned (jit)", "retrained from scratch"]
    assert df.loc["retrained from scratch", "boundary ≠ retrain % ↓"] == "0"
    assert df.loc["original", "method seconds"] == "" and float(df.loc["unlearned (jit)", "method seconds"]) > 0
    assert any("jit** forgot 5 point(s)" in m.value for m in at.markdown)
    assert not any("Forgetting..." in c.value for c in at.caption)  # the run is over: Forget is not held back
    # A second request, then undo and reset.
    button(at, "Select k random").click().run()
    assert not button(at, "Forget with jit").disabled
    button(at, "Forget with jit").click().run()
    assert len(at.session_state["workspace"].steps) == 2
    button(at, "Undo").click().run()
    ws = at.session_state["workspace"]
    assert len(ws.steps) == 1 and len(ws.selection) == 5
    button(at, "Reset").click().run()
    ws = at.session_state["workspace"]
    data = canvas_data(at)
    assert not ws.steps and ws.model is ws.original and len(data["frames"]) == 1 and data["run"] == ""


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
    assert len(at.session_state["workspace"].steps) == 1  # a preset would wipe the history: asked first
    assert any("discards 1 forget request" in w.value for w in at.warning)
    button(at, "Discard and run the preset").click().run()
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
    assert canvas_data(at)["mode"] == "draw" and canvas_data(at)["frames"] == []  # clicks add points; no model yet
    button(at, "Train").click().run()
    assert at.session_state["workspace"].trained
    assert at.radio(key="w_click").value == "Select to forget"  # trained: clicks select
    at.radio(key="w_source").set_value("Generate").run()
    assert at.session_state["source_now"] == "Draw"  # leaving the drawing asks first
    button(at, "Discard and switch").click().run()
    assert at.session_state["workspace"].source == "generated"
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


def test_canvas_events_select_and_draw():
    """What the canvas component sends (ui/state/events.apply_canvas_event) reaches the workspace once."""
    from ui.state.events import apply_canvas_event
    at = start()
    ws = at.session_state["workspace"]
    a, b = (int(i) for i in ws.train_ids[:2])
    test_id = int(ws.test_ids[0])
    ws2, ack = apply_canvas_event(ws, {"kind": "select", "selection": [a, b, test_id], "seq": 1})
    assert ws2 is ws and ack == 1 and ws.selection == {a, b}  # a test point cannot be selected
    assert apply_canvas_event(ws, {"kind": "select", "selection": [], "seq": 1}, ack=1) == (ws, 1)  # stale
    ws3, ack = apply_canvas_event(ws, {"kind": "add", "adds": [[1, 0.5, 0.5, 1], [2, 0.1, 0.2, 0]], "seq": 2}, ack=1)
    assert ack == 2 and len(ws3.y) == len(ws.y) + 1 and ws3.y[-1] == 0  # the already-applied add is skipped
    assert not ws3.trained and ws3.source == "drawn"


# --- issue 12, parts 4 and 5: drawn data as a full citizen, links that reproduce everything ---------------------
def forget_k(at, k=5):
    at.number_input(key="q_k").set_value(k).run()
    button(at, "Select k random").click().run()
    button(at, "Forget with jit").click().run()
    assert not at.exception


def drawn_and_forgotten() -> AppTest:
    """A drawing (the moons points, drawn on: one point added through the canvas' event), trained, one request."""
    from ui.state.events import apply_canvas_event
    at = start()
    at.radio(key="w_source").set_value("Draw").run()
    ws, _ = apply_canvas_event(at.session_state["workspace"], {"kind": "add", "adds": [[1, 0.3, 0.2, 1]], "seq": 1})
    at.session_state["workspace"] = ws
    at.run()
    button(at, "Train").click().run()
    forget_k(at)
    return at


def test_a_trained_drawing_behaves_like_generated_data_and_leaving_it_asks():
    at = drawn_and_forgotten()
    ws = at.session_state["workspace"]
    assert ws.source == "drawn" and len(ws.y) == 201 and len(ws.steps) == 1
    assert len(at.metric) == 3 and list(at.dataframe[0].value.index)[-1] == "retrained from scratch"
    assert any(s.value == "History" for s in at.subheader) and any(s.value == "Share and export" for s in at.subheader)
    assert not button(at, "Undo").disabled
    assert "data" in at.query_params and "hist" in at.query_params  # the URL carries the drawing and the history
    # Drawing again would discard the history: asked, and Keep keeps it.
    at.radio(key="w_click").set_value("Draw").run()
    assert at.radio(key="w_click").value == "Select to forget" and any("discards" in w.value for w in at.warning)
    button(at, "Keep").click().run()
    assert len(at.session_state["workspace"].steps) == 1
    # Leaving the drawing: asked; Keep keeps everything, Discard switches.
    at.radio(key="w_source").set_value("Generate").run()
    assert any("your drawing (201 points) and 1 forget request" in w.value for w in at.warning)
    assert at.session_state["source_now"] == "Draw" and at.radio(key="w_source").value == "Draw"
    button(at, "Keep").click().run()
    ws = at.session_state["workspace"]
    assert ws.source == "drawn" and len(ws.steps) == 1 and not any("discards" in w.value for w in at.warning)
    at.radio(key="w_source").set_value("Generate").run()
    button(at, "Discard and switch").click().run()
    assert not at.exception
    ws = at.session_state["workspace"]
    assert ws.source == "generated" and not ws.steps and "data" not in at.query_params


def test_a_model_change_that_wipes_a_history_asks_first():
    at = start()
    forget_k(at)
    at.slider(key="w_depth").set_value(3).run()
    ws = at.session_state["workspace"]
    assert len(ws.steps) == 1 and any("1 forget request" in w.value for w in at.warning)
    button(at, "Keep").click().run()
    assert at.slider(key="w_depth").value == 2 and len(at.session_state["workspace"].steps) == 1
    at.slider(key="w_depth").set_value(3).run()
    button(at, "Discard and apply").click().run()
    ws = at.session_state["workspace"]
    assert not ws.steps and ws.model_cfg.depth == 3 and at.query_params["depth"] == "3"


def test_presets_never_change_hidden_controls():
    at = start({**SMALL, "hide": "data,hyper"})
    button(at, "Too large a step").click().run()  # xor and lr 10 in the preset; data and hyperparameters hidden
    assert not at.exception
    ws = at.session_state["workspace"]
    assert ws.problem.dataset == "moons" and len(ws.y) == 200
    assert at.session_state["hp_jit_lr"] == 0.1  # the hidden step size is not the preset's 10
    assert at.query_params["dataset"] == "moons"
    at = start({**SMALL, "hide": "presets,source"})
    assert not [b for b in at.button if b.key and b.key.startswith("preset_")]
    assert not [r for r in at.sidebar.radio if r.key == "w_source"]


def test_history_in_the_link_replays_in_a_fresh_session():
    a = start()
    forget_k(a, 4)
    forget_k(a, 3)
    link = dict(a.query_params.to_dict()) if hasattr(a.query_params, "to_dict") else \
        {k: a.query_params[k] for k in a.query_params}
    assert "hist" in link and "data" not in link  # generated data: the configuration rebuilds it
    b = start(link)
    assert not b.exception
    wa, wb = a.session_state["workspace"], b.session_state["workspace"]
    assert [s.ids.tolist() for s in wb.steps] == [s.ids.tolist() for s in wa.steps]
    assert [s.hyperparameters for s in wb.steps] == [s.hyperparameters for s in wa.steps]
    for pa, pb in zip(wa.model.parameters(), wb.model.parameters()):  # the same requests give the same model
        assert np.allclose(pa.detach().numpy(), pb.detach().numpy(), atol=1e-6)
    assert any("The first 2 forget requests came with the link" in c.value for c in b.caption)


def test_a_drawing_and_its_history_travel_in_the_link():
    a = drawn_and_forgotten()
    link = {k: a.query_params[k] for k in a.query_params}
    b = start(link)
    assert not b.exception
    wa, wb = a.session_state["workspace"], b.session_state["workspace"]
    assert wb.source == "drawn" and b.session_state["source_now"] == "Draw"
    assert np.array_equal(wa.X, wb.X) and np.array_equal(wa.y, wb.y)
    assert np.array_equal(wa.train_ids, wb.train_ids) and np.array_equal(wa.test_ids, wb.test_ids)
    assert [s.ids.tolist() for s in wb.steps] == [s.ids.tolist() for s in wa.steps]
    assert b.radio(key="w_click").value == "Select to forget"


def test_a_damaged_link_warns_and_falls_back_to_defaults():
    a = start()
    forget_k(a, 3)
    link = {k: a.query_params[k] for k in a.query_params}
    link["hist"] = link["hist"][:-6]  # cut when copied
    b = start({**link, "dataset": "xor"})
    assert not b.exception
    assert any("damaged" in w.value for w in b.warning)
    ws = b.session_state["workspace"]
    assert not ws.steps and ws.problem.dataset == "moons" != "xor"  # nothing of the link applied: the defaults
    assert b.selectbox(key="w_dataset").value == "moons" and "hist" not in b.query_params


def test_a_classroom_link_with_a_drawing_keeps_it_behind_hidden_controls():
    a = drawn_and_forgotten()
    link = {k: a.query_params[k] for k in a.query_params}
    b = start({**link, "hide": "source,draw,presets"})
    assert not b.exception
    ws = b.session_state["workspace"]
    assert ws.source == "drawn" and len(ws.steps) == 1 and len(ws.y) == 201
    assert not [r for r in b.sidebar.radio if r.key == "w_source"]  # no way to switch the drawing away
    assert not [x for x in b.button if x.key and x.key.startswith("preset_")]
    assert b.query_params["hide"] == "draw,presets,source" and "data" in b.query_params
