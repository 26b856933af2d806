"""The playground's plain parts: workspace transitions, selection events, canvas spec, URL config, reports."""
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from ui.state import config, events, report
from ui.state import workspace as workspace_module
from ui.state.grids import (AGREE, RETRAINS_SPLIT, GridSpec, Layers, RetrainBand, band_layers, class_bands,
                            class_shares, disagreement_shares, encode, layers_for, shade_of)
from ui.state.presets import PRESETS
from ui.state.workspace import (Diverged, ModelConfig, Workspace, check_health, edit_points, new_workspace,
                                workspace_from_points)
from ui.views import canvas
from unlearn_core import METHODS


@pytest.fixture(scope="module")
def trained():
    ws = new_workspace("moons", n_samples=300, seed=0, model_cfg=ModelConfig(epochs=60, seed=0))
    ws.train()
    return ws


def fresh(ws):
    """An independent copy of a trained workspace with no history."""
    new = Workspace(problem=ws.problem, source=ws.source, model_cfg=ws.model_cfg, original=ws.original,
                    fit_history=ws.fit_history, grid=ws.grid)
    return new


# --- workspace ------------------------------------------------------------------------------------------

def test_selection_ignores_test_and_forgotten_points(trained):
    ws = fresh(trained)
    tr, te = ws.train_ids, ws.test_ids
    assert ws.select([tr[0], tr[1], te[0]]) == 2
    assert ws.selection == {int(tr[0]), int(tr[1])}
    ws.toggle([tr[0], tr[2]])
    assert ws.selection == {int(tr[1]), int(tr[2])}
    ws.forget("jit")
    assert set(ws.forgotten.tolist()) == {int(tr[1]), int(tr[2])} and not ws.selection
    assert ws.select([tr[1]]) == 0  # already forgotten


def test_forget_records_real_steps_and_frames(trained):
    ws = fresh(trained)
    ws.select(ws.train_ids[:10])
    step = ws.forget("jit", dict(batch_size=2))
    assert len(step.history) == 5  # ceil(10 / 2) optimiser steps, one epoch
    assert step.frame_steps == [0, 1, 2, 3, 4, 5] and len(step.frames) == 6
    shade0, cls0 = step.frames[0]
    assert shade0.dtype == np.uint8 and shade0.shape == (100, 100)
    # Frame 0 is the model before the run, the last frame the model after it.
    assert np.array_equal(step.frames[0][1], encode(trained.original, ws.gridspec, 2)[1])
    assert np.array_equal(step.frames[-1][0], encode(step.model, ws.gridspec, 2)[0])
    assert not np.array_equal(step.frames[0][0], step.frames[-1][0])


def test_frames_are_capped_at_the_budget(trained):
    ws = fresh(trained)
    ws.select(ws.train_ids[:80])
    step = ws.forget("jit", dict(batch_size=1, lr=0.01, normalize_step="probe"))
    assert len(step.history) == 80
    assert len(step.frames) == 60 and step.frame_steps[0] == 0 and step.frame_steps[-1] == 80
    assert step.frame_steps == sorted(set(step.frame_steps))


def test_a_known_run_length_computes_only_the_kept_frames_and_they_are_the_same(trained, monkeypatch):
    """``total_steps`` (the page passes JiT's run length): 60 grids computed instead of 81, the same steps and the
    same frames as recording every step and thinning; a wrong length still ends with the last step's frame."""
    hp = dict(batch_size=1, lr=0.01, normalize_step="probe")
    calls = []
    real = workspace_module.encode
    monkeypatch.setattr(workspace_module, "encode", lambda *a, **k: calls.append(1) or real(*a, **k))
    runs = {}
    for total in (None, 80, 200):
        ws = fresh(trained)
        ws.select(ws.train_ids[:80])
        calls.clear()
        seen = []
        runs[total] = (ws.forget("jit", hp, total_steps=total, on_frame=lambda s, f: seen.append(s)), len(calls), seen)
    every, exact, wrong = runs[None], runs[80], runs[200]
    assert every[1] == 81 and exact[1] == 60  # grids computed: 1 before the run + one per step, or the kept ones
    assert exact[0].frame_steps == every[0].frame_steps and exact[2] == exact[0].frame_steps
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(exact[0].frames, every[0].frames))
    torch.testing.assert_close(exact[0].model.state_dict(), every[0].model.state_dict())
    # 200 announced, 80 run: the frames of the steps <= 80 the spacing for 200 picks, then step 80's
    assert wrong[0].frame_steps[-1] == 80 and wrong[2][-1] == 80 and len(wrong[0].frames) < 60
    assert np.array_equal(wrong[0].frames[-1][0], every[0].frames[-1][0])


def test_sequential_forget_undo_and_reset(trained):
    ws = fresh(trained)
    a, b = ws.train_ids[:5], ws.train_ids[5:12]
    ws.select(a)
    first = ws.forget("jit")
    ws.select(b)
    second = ws.forget("finetune", dict(epochs=2))
    assert ws.model is second.model and len(ws.steps) == 2
    assert set(ws.forgotten.tolist()) == set(a.tolist()) | set(b.tolist())
    assert len(ws.retain_ids()) == len(ws.train_ids) - 12
    undone = ws.undo()
    assert undone is second and ws.model is first.model and ws.selection == set(b.tolist())
    ws.reset()
    assert ws.model is ws.original and not ws.steps and not ws.selection
    assert ws.undo() is None


def test_retrained_is_cached_per_forget_set(trained):
    ws = fresh(trained)
    assert ws.retrained() is ws.original  # nothing forgotten yet
    ws.select(ws.train_ids[:4])
    ws.forget("jit")
    assert not ws.has_retrained()
    r = ws.retrained()
    assert ws.has_retrained() and ws.retrained() is r and r is not ws.original


# --- the retrain band: K retrains as the oracle ---------------------------------------------------------

def hand_band(grids, n_classes=2, lo=(), hi=()):
    grids = np.asarray(grids, np.uint8)
    return RetrainBand(class_shares(grids, n_classes), np.arange(len(lo)), np.asarray(lo, float),
                       np.asarray(hi, float), len(grids))


def test_band_shares_per_cell_from_hand_built_grids():
    grids = [[[0, 1], [2, 2]], [[0, 1], [2, 0]], [[0, 0], [1, 0]], [[0, 1], [2, 1]]]  # K=4 grids of 2x2, 3 classes
    band = hand_band(grids, 3)
    assert band.shares.shape == (2, 2, 3)
    np.testing.assert_allclose(band.shares[0, 0], [1, 0, 0])
    np.testing.assert_allclose(band.shares[0, 1], [0.25, 0.75, 0])
    np.testing.assert_allclose(band.shares[1, 0], [0, 0.25, 0.75])
    np.testing.assert_allclose(band.shares[1, 1], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(band.shares.sum(-1), 1)
    assert band.majority().tolist() == [[0, 1], [2, 0]]  # the dashed line is drawn from this
    assert band.agreed().tolist() == [[True, False], [False, False]]


def test_disagreement_counts_only_where_retrains_agree():
    # K=5: cell (0,0) 5/5 say 0; (0,1) 4/5 say 1 (= 80%: agreed); (1,0) 3/5 say 0 (split); (1,1) 4/5 say 0.
    grids = np.array([[[0, 1], [0, 0]]] * 3 + [[[0, 1], [1, 0]], [[0, 0], [1, 1]]])
    band = hand_band(grids)
    assert AGREE == 0.8 and band.agreed().tolist() == [[True, True], [False, True]]
    cls = np.array([[1, 1], [1, 0]], np.uint8)  # the model: wrong at (0,0), right at (0,1), "wrong" in the split cell
    layers = band_layers(np.zeros((2, 2), np.uint8), cls, band)
    assert layers.disagreement().tolist() == [[1, 0], [RETRAINS_SPLIT, 0]]
    assert disagreement_shares(layers) == {"disagrees": 0.25, "retrains_split": 0.25}
    # Against one retrain (member 0) alone, the split cell would count against the model too.
    assert disagreement_shares(Layers(layers.shade, cls, grids[0].astype(np.uint8)))["disagrees"] == 0.5
    fig = go.Figure(canvas.canvas_figure(GridSpec((0, 1, 0, 1), 2), np.zeros((0, 2), np.float32),
                                         np.zeros(0, np.int64), n_classes=2, layers=layers, train_ids=[]))
    assert fig.data[1].zmax == 2 and fig.data[3].line.dash == "dash"


def test_in_range_counts_forget_points_within_the_retrains():
    band = hand_band([[[0]]], lo=[0.2, 0.5, 0.9], hi=[0.4, 0.6, 0.95])
    assert band.in_range([0.3, 0.7, 0.9]).tolist() == [True, False, True]


def test_retrain_band_is_cached_per_forget_set_and_computed_only_when_asked(monkeypatch):
    ws = new_workspace("moons", n_samples=80, seed=0, model_cfg=ModelConfig(epochs=4, width=8, depth=1, seed=0))
    ws.train()
    calls = []
    real = workspace_module.unlearn_ensemble
    monkeypatch.setattr(workspace_module, "unlearn_ensemble", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    assert ws.retrain_band(3) is None and ws.has_retrain_band(3)  # nothing forgotten: no band
    ws.select(ws.train_ids[:2])
    ws.forget("jit")
    assert calls == [] and not ws.has_retrain_band(3)  # forgetting does not retrain
    band = ws.retrain_band(3)
    assert calls == [1] and ws.has_retrain_band(3) and ws.retrain_band(3) is band and calls == [1]
    assert band.k_models == 3 and band.shares.shape == (100, 100, 2)
    np.testing.assert_allclose(band.shares.sum(-1), 1, atol=1e-6)
    assert band.ids.tolist() == ws.forgotten.tolist() and np.all(band.conf_lo <= band.conf_hi)
    assert ws.has_retrained()  # member 0 (seed 0) is the single retrained model
    assert not ws.has_retrain_band(4)  # another K is another band
    line = report.band_range_line(ws, band)
    assert "of 2" in line and "3 retrains" in line
    ws.select(ws.train_ids[5:6])
    ws.forget("jit")
    assert not ws.has_retrain_band(3)  # a new forget set needs new retrains
    ws.undo()
    assert ws.has_retrain_band(3) and ws.retrain_band(3) is band and calls == [1]


def test_check_forget_messages(trained):
    ws = fresh(trained)
    error, _ = ws.check_forget([])
    assert error and "Nothing is selected" in error
    error, _ = ws.check_forget(ws.train_ids)
    assert error and "every remaining training point" in error
    error, warnings = ws.check_forget(ws.train_ids[ws.y[ws.train_ids] == 0])
    assert error is None and any("whole class" in w for w in warnings)
    untrained = new_workspace("moons", n_samples=60)
    assert untrained.check_forget([0])[0] == "Train the model first."
    with pytest.raises(ValueError, match="Nothing is selected"):
        fresh(trained).forget("jit")


def test_divergence_is_detected_and_changes_nothing(trained):
    ws = fresh(trained)
    ids = ws.train_ids[:12]
    ws.select(ids)
    with pytest.raises(Diverged) as info:
        ws.forget("jit", dict(lr=1000.0, normalize_step="off"))
    assert "loss" in str(info.value) or "collapsed" in str(info.value)
    assert info.value.frames and info.value.history  # the failed run is kept to show
    assert not ws.steps and ws.model is ws.original and ws.selection == set(ids.tolist())


def test_check_health_flags_collapse_and_nan(trained):
    import torch
    X, y = trained.pairs(trained.train_ids)
    check_health(trained.original, X, y)  # a healthy model passes
    bad = new_workspace("moons", n_samples=60, model_cfg=ModelConfig(epochs=10)).model_cfg.build(2)
    with torch.no_grad():
        for p in bad.parameters():
            p.zero_()
        bad.net[-1].bias.copy_(torch.tensor([5.0, -5.0]))
    with pytest.raises(Diverged, match="collapsed"):
        check_health(bad, X, y)
    with torch.no_grad():
        bad.net[-1].bias.fill_(float("nan"))
    with pytest.raises(Diverged, match="finite"):
        check_health(bad, X, y)


def test_edit_points_and_points_workspace():
    ws = workspace_from_points([[0, 0], [1, 1], [0, 1], [1, 0], [2, 2], [3, 3], [2, 3], [3, 2]],
                               [0, 0, 0, 0, 1, 1, 1, 1], source="csv", test_ratio=0.25)
    assert len(ws.train_ids) + len(ws.test_ids) == 8 and not ws.trained
    drawn = edit_points(ws, add=[(5.0, 5.0, 1)], remove=[0])
    assert len(drawn.y) == 8 and drawn.source == "drawn"
    assert drawn.y[-1] == 1 and tuple(drawn.X[-1]) == (5.0, 5.0) and len(drawn.y) - 1 in drawn.train_ids
    assert sorted(np.concatenate([drawn.train_ids, drawn.test_ids]).tolist()) == list(range(8))
    assert drawn.grid is ws.grid  # the canvas does not jump while drawing
    with pytest.raises(ValueError, match="2 to 4"):
        workspace_from_points(np.random.rand(10, 2), np.arange(10) % 5, source="csv")
    with pytest.raises(ValueError, match="two classes"):
        workspace_from_points(np.random.rand(10, 2), np.zeros(10), source="csv")
    with pytest.raises(ValueError, match="fewer than two classes"):
        edit_points(ws, remove=np.flatnonzero(ws.y == 1)).train()


# --- canvas ---------------------------------------------------------------------------------------------

def test_selected_ids_reads_customdata_and_empty_clicks():
    event = {"selection": {"points": [{"customdata": 7, "x": 0, "y": 0}, {"customdata": [3]},
                                      {"customdata": -1, "x": 0.5, "y": -1.0}, {"x": 1, "y": 1}],
                           "box": [], "lasso": [], "point_indices": []}}
    assert events.selected_ids(event) == ([3, 7], [(0.5, -1.0)])
    assert events.selected_ids(None) == ([], [])
    assert events.selected_ids({"selection": {"points": []}}) == ([], [])


def test_apply_event_click_toggles_box_adds_and_draw(trained):
    ws = fresh(trained)
    a, b = (int(i) for i in ws.train_ids[:2])
    click = {"selection": {"points": [{"customdata": a}], "box": [], "lasso": []}}
    box = {"selection": {"points": [{"customdata": a}, {"customdata": b}], "box": [{"x": [0, 1], "y": [0, 1]}],
                         "lasso": []}}
    assert events.apply_event(ws, click) is ws and ws.selection == {a}
    events.apply_event(ws, click)
    assert ws.selection == set()
    events.apply_event(ws, box)
    events.apply_event(ws, box)  # a box never deselects
    assert ws.selection == {a, b}
    empty = {"selection": {"points": [{"customdata": -1, "x": 0.25, "y": 0.5}]}}
    drawn = events.apply_event(ws, empty, mode="add", draw_class=1)
    assert len(drawn.y) == len(ws.y) + 1 and drawn.y[-1] == 1 and not drawn.trained
    removed = events.apply_event(ws, click, mode="remove")
    assert len(removed.y) == len(ws.y) - 1


def test_canvas_spec_traces_ids_and_payload(trained):
    ws = fresh(trained)
    ws.select(ws.train_ids[:20])
    step = ws.forget("jit", dict(batch_size=1, lr=0.025, normalize_step="probe"))
    ws.select(ws.train_ids[30:33])
    ghost = ws.retrained()
    gcls = layers_for(ghost, ws.gridspec, 2).cls
    frames = [Layers(s, c, gcls) for s, c in step.frames]
    fig = canvas.canvas_figure(ws.gridspec, ws.X, ws.y, n_classes=2, layers=frames[-1], train_ids=ws.train_ids,
                               test_ids=ws.test_ids, forgotten=ws.forgotten, selection=ws.selection, frames=frames,
                               frame_steps=step.frame_steps)
    f = go.Figure(fig)  # a valid Plotly figure
    names = [t.name for t in f.data]
    assert names[:4] == ["confidence", "disagrees with retrain", "boundary", "retrained"]
    assert "forgotten" in names and "selected" in names and "test" in names
    ids = np.concatenate([np.asarray(t.customdata) for t in f.data if t.name.startswith("class")])
    assert sorted(ids.tolist()) == sorted(np.setdiff1d(ws.train_ids, ws.forgotten).tolist())
    assert len(f.frames) == 21 and all(list(fr.traces) == [0, 1, 2] for fr in f.frames)
    assert f.layout.sliders[0].active == 20 and len(f.layout.sliders[0].steps) == 21
    assert f.layout.xaxis.fixedrange and f.layout.yaxis.scaleanchor == "x"
    # The disagreement layer is the per-frame comparison with the retrained model's classes.
    assert np.array_equal(frames[-1].disagreement(), (frames[-1].cls != gcls).astype(np.uint8))
    # Payload: uint8 grids keep 21 frames of 100x100 (3 grids each) well under the 4 MB budget.
    size = len(pio.to_json(f, validate=False))
    assert size < 2_500_000
    spec = json.loads(pio.to_json(f, validate=False))
    assert spec["frames"][0]["data"][0]["z"]["dtype"] == "u1"


def test_shade_encodes_class_and_confidence():
    import torch
    p = torch.tensor([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.25, 0.75]]])
    shade, cls = shade_of(p, 2)
    assert cls.tolist() == [[0, 0], [1, 1]]
    assert shade[0, 0] == 0 and shade[0, 1] == 127 and shade[1, 0] == 255 and 128 < shade[1, 1] < 255
    scale = canvas.shade_colorscale(3)
    assert scale[0][0] == 0 and scale[-1][0] == 1.0 and all(a[0] <= b[0] for a, b in zip(scale, scale[1:]))
    # Every shade stays in its class's colour band, sure or unsure, for any number of classes.
    for k in (2, 3, 4):
        for c in range(k):
            for conf in (1.0 / k + 1e-3, 0.6, 0.999, 1.0):  # (at exactly 1/k, argmax ties)
                p = torch.full((1, 1, k), (1 - conf) / max(k - 1, 1))
                p[0, 0, c] = conf
                z, _ = shade_of(p, k)
                lo, hi = class_bands(k)[c]
                assert lo <= z[0, 0] <= hi, (k, c, conf, z)
        bands = class_bands(k)
        assert bands[0][0] == 0 and bands[-1][1] == 255
        assert all(a[1] + 1 == b[0] for a, b in zip(bands, bands[1:]))  # disjoint and adjacent
        stops = [s[0] for s in canvas.shade_colorscale(k)]
        assert stops == sorted(stops) and stops[0] == 0 and stops[-1] == 1.0


def test_gridspec_is_square_around_points():
    spec = GridSpec.around(np.array([[0, 0], [4, 1]], np.float32))
    x0, x1, y0, y1 = spec.bounds
    assert x0 < 0 and x1 > 4 and y0 < 0 and y1 > 1 and abs((x1 - x0) - (y1 - y0)) < 1e-9
    assert spec.points.shape == (100 * 100, 2)


# --- URL configuration ----------------------------------------------------------------------------------

def test_config_round_trips_through_the_url():
    cfg = config.Config(dataset="blobs", n=300, noise=0.5, classes=4, seed=7, test=0.3, width=32, depth=3,
                        activation="tanh", method="jit", hp={"sigma": 0.4, "batch_size": 2, "normalize_step": "probe"},
                        hide=frozenset({"model", "data"}))
    q = config.to_query(cfg)
    assert all(isinstance(v, str) for v in q.values())
    back, notes = config.from_query(q)
    assert notes == []
    for f in ("dataset", "n", "noise", "classes", "seed", "test", "width", "depth", "activation", "method", "hide"):
        assert getattr(back, f) == getattr(cfg, f), f
    assert back.hyperparameters()["sigma"] == 0.4 and back.hyperparameters()["normalize_step"] == "probe"
    assert q["hide"] == "data,model"


def test_config_from_bad_query_clamps_and_explains():
    cfg, notes = config.from_query({"dataset": "nope", "n": "99999", "seed": "abc", "width": "inf",
                                    "method": "magic", "sigma": "-3", "hide": "data,everything", "zzz": "1"})
    assert cfg.dataset == "moons" and cfg.n == 2000 and cfg.seed == 0 and cfg.width == 64 and cfg.method == "jit"
    assert cfg.hp["sigma"] == config.hyper_controls("jit")["sigma"].lo and cfg.hide == frozenset({"data"})
    text = " ".join(notes)
    for bit in ("unknown dataset", "n=99999", "seed='abc'", "not finite", "unknown method", "cannot hide everything"):
        assert bit in text, bit
    moons, _ = config.from_query({"dataset": "moons", "classes": "3"})
    assert moons.resolved_classes() is None  # moons has two classes


def test_widget_defaults_come_from_the_core_table():
    d = config.method_defaults("jit")
    core = METHODS["jit"].defaults()
    assert {k: d[k] for k in config.hyper_controls("jit")} == {k: core[k] for k in config.hyper_controls("jit")}
    assert config.Config().hyperparameters()["normalize_step"] == core["normalize_step"]
    assert config.Config(hp={"normalize_step": "off"}).hyperparameters()["normalize_step"] == "off"  # one spelling


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gets_the_widgets_its_file_declares(method):
    spec = METHODS[method]
    controls = config.hyper_controls(method)
    assert list(controls) == [k for k, p in spec.params.items() if p.widget is not None]
    defaults = config.method_defaults(method)
    for name, c in controls.items():
        p = spec.params[name]
        assert (c.label, c.help, c.kind) == (p.label or name, p.help, p.kind)
        if c.numeric:
            assert (c.lo, c.hi, c.step) == p.widget and c.lo <= defaults[name] <= c.hi
        else:
            assert defaults[name] in c.choices if c.kind == "choice" else isinstance(defaults[name], bool)
    # every exposed value survives the URL
    cfg = config.Config(method=method, hp=dict(defaults))
    assert config.from_query(config.to_query(cfg))[0].hyperparameters() == defaults


def test_old_links_with_plain_sgd_still_load():
    cfg, notes = config.from_query({"method": "jit", "normalize_step": "off", "lr": "0.001"})
    assert notes == [] and cfg.hyperparameters()["normalize_step"] == "off"
    cfg, notes = config.from_query({"method": "jit", "normalize_step": "False"})
    assert "unknown normalize_step 'False'" in " ".join(notes) and cfg.hyperparameters()["normalize_step"] == "first"
    cfg, _ = config.from_query({"method": "ssd", "alpha": "5", "lam": "99"})
    assert cfg.hp == {"alpha": 5.0, "lam": 5.0}  # clamped to the widget's range


# --- reports and presets --------------------------------------------------------------------------------

def test_frames_hint_offers_smaller_batches():
    hp = {"batch_size": 4, "lr": 0.1, "epochs": 1}
    h = report.frames_hint(10, hp)
    assert h["batch_size"] == 1 and h["steps"] == 10 and h["lr"] == pytest.approx(0.025)
    assert report.frames_hint(200, hp) is None  # 50 steps already
    assert report.frames_hint(10, {"batch_size": 1, "lr": 0.1, "epochs": 1}) is None
    h = report.frames_hint(60, {"batch_size": 8, "lr": 0.1, "epochs": 1})
    assert h["steps"] >= 20 and h["batch_size"] < 8


@pytest.mark.slow
def test_metrics_rows_compare_with_retrain(trained):
    ws = fresh(trained)
    assert report.metrics_rows(ws, ws.original) == []
    ws.select(ws.train_ids[ws.y[ws.train_ids] == 0][:15])
    ws.forget("jit")
    rows = report.metrics_rows(ws, ws.retrained())
    assert [r["model"] for r in rows] == ["original", "unlearned (jit)", "retrained from scratch"]
    ret = rows[2]
    assert ret["boundary ≠ retrain % ↓"] == 0 and ret["JS to retrain, forget ↓"] == pytest.approx(0, abs=1e-6)
    assert rows[1]["method seconds"] > 0 and np.isnan(rows[0]["method seconds"])


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_select_sensible_points(name):
    p = PRESETS[name]
    cfg = config.Config(**{k: v for k, v in p.config.items() if k != "hp"}, hp=p.config.get("hp", {}))
    ws = new_workspace(cfg.dataset, n_samples=cfg.n, noise=cfg.noise, seed=cfg.seed, classes=cfg.classes,
                       model_cfg=ModelConfig(epochs=60, seed=cfg.seed))
    ws.train()
    ids = p.select(ws)
    assert len(ids) > 0 and np.isin(ids, ws.train_ids).all()
    if name == "whole_class":
        assert set(ws.y[ids].tolist()) == {0} and len(ids) == int((ws.y[ws.train_ids] == 0).sum())
    if name == "low_info":
        from unlearn_core.scenarios import information
        alpha = information(*ws.pairs(ws.train_ids))
        chosen = alpha[np.isin(ws.train_ids, ids)]
        assert chosen.min() >= np.nanmedian(alpha) and not np.isnan(chosen).any()


def test_quick_selectors(trained):
    ws = fresh(trained)
    n0 = int((ws.y[ws.train_ids] == 0).sum())
    assert ws.select_class(0) == n0 and set(ws.y[list(ws.selection)].tolist()) == {0}
    ws.clear_selection()
    assert ws.select_random(7, seed=1) == 7 and ws.select_random(7, seed=1) == 7  # new points each time
    assert len(ws.selection) == 14
    ws.clear_selection()
    x0, x1, y0, y1 = -0.5, 0.5, -0.25, 0.75
    got = ws.select_region((x1, x0, y0, y1))  # reversed edges are fine
    P = ws.X[ws.train_ids]
    expect = ((P[:, 0] >= x0) & (P[:, 0] <= x1) & (P[:, 1] >= y0) & (P[:, 1] <= y1)).sum()
    assert got == expect > 0
    ws.forget("jit")
    assert ws.select_region((x0, x1, y0, y1)) == 0  # forgotten points are not selectable again
    big = ws.select_random(10_000)
    assert big == len(ws.retain_ids()) and ws.select_random(3) == 0


# --- layout ---------------------------------------------------------------------------------------------

def test_ui_layout_keeps_its_dependency_rules():
    """No Streamlit below the pages; ui.state never imports ui.views, and views never import torch; imports
    sit at the top of a module (only optional heavy dependencies may load late); no private name crosses a
    module boundary."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    late_ok = {"kaleido", "choreographer.browsers.chromium", "PIL"}  # optional, heavy, loaded on first use
    for path in sorted((root / "ui").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text())
        late = {n for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
                imported = []
            else:
                base = "." * node.level + (node.module or "")
                names = [base]
                imported = [a.name for a in node.names]
            for name in names:
                assert not name.startswith("streamlit"), f"{rel} imports {name}"
                if rel.startswith("ui/state/"):
                    assert not (name.startswith("ui.views") or name.startswith("..views")), f"{rel} imports {name}"
                if rel.startswith("ui/views/"):  # views draw: no model maths
                    assert name.split(".")[0] != "torch", f"{rel} imports {name}"
            if node in late:
                assert all(n.lstrip(".") in late_ok for n in names), f"{rel}:{node.lineno} imports {names} late"
            bad = [n for n in imported if n.startswith("_") and not (names[0] == "_plotly_utils.utils")]
            assert not bad, f"{rel} imports private {bad}"


# --- issue 12: classroom groups, presets under hidden controls, what a change discards ---------------------------
def test_presets_and_source_are_hideable_and_presets_keep_hidden_fields():
    from ui.state import config
    assert {"presets", "source"} <= set(config.HIDEABLE)
    cfg, notes = config.from_query({"hide": "presets,source,data"})
    assert cfg.hide == {"presets", "source", "data"} and not notes
    now = config.Config(dataset="moons", n=200, method="jit", hp={"lr": 0.1}, width=32)
    preset = config.Config(dataset="xor", n=400, method="jit", hp={"lr": 10.0}, width=8)
    merged = config.merge_visible(now, preset, {"data", "hyper"})
    assert (merged.dataset, merged.n, merged.hp) == ("moons", 200, {"lr": 0.1})  # hidden: unchanged
    assert merged.width == 8  # visible: the preset's
    assert config.merge_visible(now, preset, set()) == preset


def test_change_loses_names_what_would_be_discarded():
    from ui.state.workspace import change_loses, edit_points, new_workspace
    ws = new_workspace("moons", n_samples=80, seed=0)
    assert change_loses(ws) is None and change_loses(None) is None
    ws.model_cfg.epochs = 10
    ws.train()
    assert change_loses(ws) is None and change_loses(ws, model=True) == "the trained model"
    ws.select(ws.train_ids[:2])
    ws.forget("jit", {})
    assert change_loses(ws) == "1 forget request"
    drawn = edit_points(ws, add=[(0.0, 0.0, 1)])
    assert change_loses(drawn) == "your drawing (81 points)" and change_loses(drawn, points=False) is None
