"""The canvas component's payload (ui/views/canvas_payload.py): compact, lossless, and the same player offline."""
import json

import numpy as np
import pytest

from ui.state.grids import GridSpec, Layers, class_bands, shade_of
from ui.state.workspace import new_workspace
from ui.views.canvas_payload import (FORGOTTEN, HIDDEN, TEST, TRAIN, canvas_html, canvas_payload, decode,
                                     only_new_frames, payload_for, player_js)
import torch


def grids(r=8, k=3, seed=0):
    p = torch.softmax(torch.randn(r, r, k, generator=torch.Generator().manual_seed(seed)), -1)
    return shade_of(p, k)


def test_payload_round_trips_points_roles_frames_and_band():
    r, k = 8, 3
    spec = GridSpec((-1.0, 1.0, -2.0, 2.0), r)
    X = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    frames = [grids(r, k, s)[0] for s in range(3)]
    ghost = Layers(None, None, grids(r, k, 9)[1], np.eye(r, dtype=bool))
    d = canvas_payload(spec, X, y, n_classes=k, frames=frames, frame_steps=[0, 5, 10], ghost=ghost,
                       train_ids=range(7), test_ids=[7, 8, 9], forgotten=[1], selection={2, 3, 99}, show_test=True,
                       run="r1", ack=4, title="t")
    json.dumps(d)  # JSON-ready as it is
    back = decode(d)
    np.testing.assert_array_equal(back["xy"], X)
    np.testing.assert_array_equal(back["labels"], y)
    assert back["roles"].tolist() == [TRAIN, FORGOTTEN, TRAIN, TRAIN, TRAIN, TRAIN, TRAIN, TEST, TEST, TEST]
    np.testing.assert_array_equal(back["frames"], np.stack(frames))
    np.testing.assert_array_equal(back["ghost"], ghost.ghost_cls)
    np.testing.assert_array_equal(back["agreed"], np.eye(r, dtype=np.uint8))
    assert d["steps"] == [0, 5, 10] and d["selection"] == [2, 3]  # out-of-range ids dropped
    assert d["bands"] == [list(b) for b in class_bands(k)] and d["bounds"] == [-1.0, 1.0, -2.0, 2.0]
    assert d["run"] == "r1" and d["ack"] == 4 and d["k"] == 3 and len(d["colors"]) == 3
    hidden = canvas_payload(spec, X, y, n_classes=k, frames=frames[:1], train_ids=range(7), test_ids=[7, 8, 9],
                            show_test=False)
    assert decode(hidden)["roles"][7:].tolist() == [HIDDEN] * 3 and hidden["ghost"] is None


def test_class_is_recoverable_from_shade_bands():
    """The canvas derives each cell's class from the band its shade falls in: that must equal the class grid."""
    shade, cls = grids(16, 4, 3)
    bands = class_bands(4)
    derived = np.zeros_like(cls)
    for c, (lo, hi) in enumerate(bands):
        derived[(shade >= lo) & (shade <= hi)] = c
    np.testing.assert_array_equal(derived, cls)


def test_payload_checks_shapes():
    spec = GridSpec((0, 1, 0, 1), 4)
    X = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="grid is 4x4"):
        canvas_payload(spec, X, [0, 1, 0], n_classes=2, frames=[np.zeros((5, 5), np.uint8)])
    with pytest.raises(ValueError, match="frame steps"):
        canvas_payload(spec, X, [0, 1, 0], n_classes=2, frames=[np.zeros((4, 4), np.uint8)], frame_steps=[0, 1])
    with pytest.raises(ValueError, match="labels"):
        canvas_payload(spec, X, [0, 1], n_classes=2, frames=[])


def test_sixty_frames_of_a_workspace_stay_small_and_html_is_standalone():
    ws = new_workspace("moons", n_samples=600)
    ws.model_cfg.epochs = 5
    ws.train()
    shade = ws.layers(ws.original).shade
    d = payload_for(ws, frames=[shade] * 60, frame_steps=list(range(60)), title="</script><b>x</b>")
    size = len(json.dumps(d))
    assert size < 1_000_000, size  # 60 frames of 100x100 as uint8 base64 (Plotly's uint8 was 3.8 MB)
    page = canvas_html(d, title="A <title>").decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "plotly" not in page.lower()
    assert "export default" not in page and "function streamlitEntry" in page and "mountCanvas(" in page
    assert "</script><b>" not in page and "A &lt;title&gt;" in page  # data and title cannot close the script
    assert len(page) < 1_200_000
    assert player_js().count("export default") == 0


def test_alpha_travels_per_point_and_live_is_flagged():
    """alpha(x) of the training points (scenarios.information at ALPHA_RADIUS) goes with the payload, one byte
    per point; test points and points with no neighbour have none. A live payload says so; the export never is."""
    from unlearn_core.scenarios import information
    from ui.views.canvas_payload import ALPHA_RADIUS, alpha_of

    ws = new_workspace("moons", n_samples=200)
    ws.model_cfg.epochs = 5
    ws.train()
    shade = ws.layers(ws.original).shade
    d = payload_for(ws, frames=[shade, shade], frame_steps=[0, 1], run="live:1", live=True)
    assert d["live"] is True and d["alpha_radius"] == ALPHA_RADIUS
    got = decode(d)["alpha"]
    want = np.full(len(ws.y), np.nan)
    want[ws.train_ids] = information(*ws.pairs(ws.train_ids), ALPHA_RADIUS)
    assert np.isnan(got[ws.test_ids]).all()
    np.testing.assert_allclose(got, want, atol=0.5 / 250, equal_nan=True)
    assert alpha_of(ws) is not None and payload_for(ws, frames=[shade])["live"] is False
    page = canvas_html(d).decode("utf-8")
    assert '"live":false' in page


def test_a_panel_is_flagged_and_the_main_canvas_is_not():
    ws = new_workspace("moons", n_samples=80, noise=0.2, seed=0, classes=None, test_ratio=0.25)
    grid = np.zeros((ws.gridspec.resolution,) * 2, np.uint8)
    assert payload_for(ws, frames=[grid], panel=True, interactive=False)["panel"] is True
    assert payload_for(ws, frames=[grid])["panel"] is False


def test_a_live_payload_carries_only_the_frames_the_canvas_lacks():
    """After the first payload of a live run only new frames travel; held plus new rebuild the full animation,
    thinned frames included (a step the run dropped is not asked for)."""
    r, k = 8, 2
    spec = GridSpec((-1.0, 1.0, -1.0, 1.0), r)
    X = np.zeros((4, 2), np.float32)
    y = np.array([0, 1, 0, 1])
    grid = {s: grids(r, k, s)[0] for s in range(12)}

    def live(steps):
        return canvas_payload(spec, X, y, n_classes=k, frames=[grid[s] for s in steps], frame_steps=steps,
                              run="live:1", live=True)

    first = live([0, 1, 2, 3])
    assert only_new_frames(first, ()) is first and "new_steps" not in first  # nothing held: whole
    second = live([0, 2, 4, 5, 6])  # the run thinned step 1 and 3 away and computed 4..6
    delta = only_new_frames(second, first["steps"])
    assert delta["new_steps"] == [4, 5, 6] and delta["steps"] == [0, 2, 4, 5, 6]
    assert len(delta["frames"]) == 3 and len(json.dumps(delta)) < len(json.dumps(second))
    held = dict(zip(first["steps"], first["frames"]))
    held.update(zip(delta["new_steps"], delta["frames"]))
    assert [held[s] for s in delta["steps"]] == second["frames"]  # what the canvas rebuilds is the full payload
    assert only_new_frames(second, second["steps"])["frames"] == []  # nothing new: points and steps only
    with pytest.raises(ValueError, match="new frames only"):
        decode(delta)
