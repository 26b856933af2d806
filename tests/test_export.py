"""Session JSON round trip and validation (ui.state.session), standalone HTML (ui.views.html), PNG (ui.views.png)."""
import base64
import dataclasses
import functools
import json
import math
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from ui.state import session
from unlearn_core import session_file
from ui.state.grids import Layers
from ui.state.session import SessionFileError, load_session, session_from_json, session_to_json
from ui.state.workspace import new_workspace
from ui.views import png
from ui.views.canvas import canvas_figure, figure_for
from ui.views.html import animation_html, static_figure
from ui.views.png import figure_png

CHROMIUM = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")


def make_ws(n=200, steps=(("jit", slice(0, 8)), ("jit", slice(20, 30))), select=slice(40, 45)):
    ws = new_workspace("moons", n_samples=n)
    ws.model_cfg.epochs = 20
    ws.train()
    for method, rows in steps:
        ws.select(ws.train_ids[rows])
        ws.forget(method)
    if select is not None:
        ws.select(ws.train_ids[select])
    return ws


@functools.lru_cache(maxsize=None)
def saved():
    """(workspace, its session text): built once, never mutated by the tests."""
    ws = make_ws()
    return ws, session_to_json(ws, metrics={"acc_forget": 0.5, "per_step": [{"mia": 0.51}, {"mia": 0.49}]})


def doc():
    return json.loads(saved()[1])


def dump(d):
    return json.dumps(d)  # allow_nan: mutated files may hold NaN / Infinity literals


def logits(model, X):
    with torch.no_grad():
        return model(torch.as_tensor(X))


def tensor_doc(arr):
    return {"dtype": str(arr.dtype), "shape": list(arr.shape),
            "data": base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()}


def load_error(text) -> str:
    with pytest.raises(ValueError) as info:
        session_from_json(text)
    assert isinstance(info.value, SessionFileError)
    return str(info.value)


# --- round trip --------------------------------------------------------------------------------


def test_round_trip_restores_the_workspace():
    ws, text = saved()
    ws2, metrics = load_session(text)
    assert metrics == {"acc_forget": 0.5, "per_step": [{"mia": 0.51}, {"mia": 0.49}]}
    # data
    assert ws2.X.dtype == np.float32 and np.array_equal(ws2.X, ws.X)
    assert ws2.y.dtype == np.int64 and np.array_equal(ws2.y, ws.y)
    assert np.array_equal(ws2.train_ids, ws.train_ids) and np.array_equal(ws2.test_ids, ws.test_ids)
    assert (ws2.problem.dataset, ws2.n_classes, ws2.source) == (ws.problem.dataset, ws.n_classes, ws.source)
    assert ws2.model_cfg == ws.model_cfg
    assert ws2.grid.bounds == ws.grid.bounds and ws2.grid.resolution == ws.grid.resolution
    assert ws2.selection == ws.selection and len(ws2.selection) == 5
    assert ws2.fit_history == ws.fit_history
    assert np.array_equal(ws2.forgotten, ws.forgotten)
    # models: bitwise equal predictions on the points and on the canvas grid
    pts = [ws.X, ws.gridspec.points]
    for a, b in [(ws.original, ws2.original)] + [(s.model, t.model) for s, t in zip(ws.steps, ws2.steps)]:
        for P in pts:
            assert torch.equal(logits(a, P), logits(b, P))
        assert b.fit_recipe == a.fit_recipe
        assert not b.training
    # steps
    assert len(ws2.steps) == len(ws.steps) == 2
    for s, t in zip(ws.steps, ws2.steps):
        assert np.array_equal(s.ids, t.ids)
        assert (s.method, s.hyperparameters, s.history, s.seconds, s.frame_steps, s.device) == \
               (t.method, t.hyperparameters, t.history, t.seconds, t.frame_steps, t.device)
        assert len(s.frames) == len(t.frames) > 0
        for (sa, ca), (sb, cb) in zip(s.frames, t.frames):
            assert sb.dtype == np.uint8 and np.array_equal(sa, sb) and np.array_equal(ca, cb)


def test_loaded_workspace_keeps_working():
    ws, text = saved()
    ws2 = session_from_json(text.encode("utf-8"))  # bytes, as st.file_uploader gives them
    # fit_recipe is restored, so retraining repeats the original recipe exactly
    X = torch.as_tensor(ws.X)
    assert torch.equal(logits(ws2.retrained(), X), logits(ws.retrained(), X))
    ws2.forget("jit")  # the saved selection
    assert len(ws2.steps) == 3 and not ws2.selection
    ws2.undo()
    assert ws2.selection == ws.selection
    figure_for(ws2, ws2.layers(ws2.model))


def test_untrained_workspace_round_trips():
    ws = new_workspace("blobs", n_samples=120, classes=3)
    ws2 = session_from_json(session_to_json(ws))
    assert ws2.original is None and ws2.steps == [] and ws2.grid is None
    assert np.array_equal(ws2.X, ws.X) and ws2.n_classes == 3


@pytest.mark.slow
def test_file_is_small():
    ws = make_ws(n=600, steps=(("jit", slice(0, 10)), ("finetune", slice(20, 40))))
    assert len(ws.steps[1].frames) == 60  # the most frames a step keeps
    text = session_to_json(ws)
    assert len(text) < 2_000_000, len(text)
    assert "pickle" not in text


def test_save_refuses_non_finite_weights_and_non_json_metrics():
    ws = make_ws(steps=(), select=None)
    with pytest.raises(ValueError, match="metrics\\['bad'\\] is a object"):
        session_to_json(ws, metrics={"bad": object()})
    # numpy values are converted, non-finite metrics become null
    text = session_to_json(ws, metrics={"a": np.float32(0.25), "b": np.arange(2), "c": float("nan")})
    assert load_session(text)[1] == {"a": 0.25, "b": [0, 1], "c": None}
    ws.model_cfg.activation = "nope"  # a state the reader refuses: caught when saving
    with pytest.raises(ValueError, match="would not load back .*model_config.activation"):
        session_to_json(ws)
    ws.model_cfg.activation = "relu"
    with torch.no_grad():
        ws.original.net[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite weights"):
        session_to_json(ws)


# --- validation --------------------------------------------------------------------------------


def _set(path, value):
    def f(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return f


def _del(path):
    def f(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]
    return f


def _nan_weight(d):
    t = d["original"]["state"]["net.0.weight"]
    arr = np.frombuffer(base64.b64decode(t["data"]), np.float32).copy()
    arr[3] = np.inf
    t["data"] = base64.b64encode(arr.tobytes()).decode()


def _nan_x(d):
    X = np.frombuffer(base64.b64decode(d["data"]["X"]["data"]), np.float32).copy()
    X[5] = np.nan
    d["data"]["X"]["data"] = base64.b64encode(X.tobytes()).decode()


def _first_test_id(d):
    return d["data"]["test_ids"][0]


BAD = {
    "wrong format": (_set(("format",), "something-else"), ["$.format", "not a playground session file"]),
    "wrong version": (_set(("version",), 2), ["$.version", "version 2", "update the app"]),
    "missing top-level key": (_del(("steps",)), ["at $:", "missing key 'steps'"]),
    "missing nested key": (_del(("data", "y")), ["$.data:", "missing key 'y'"]),
    "missing weight": (_del(("original", "state", "net.2.bias")), ["$.original.state", "missing net.2.bias"]),
    "X wrong shape": (lambda d: d["data"].__setitem__("X", tensor_doc(np.zeros((200, 3), np.float32))),
                      ["$.data.X.shape", "expected shape [*, 2], found [200, 3]"]),
    "X wrong dtype": (lambda d: d["data"].__setitem__("X", tensor_doc(np.zeros((200, 2), np.float64))),
                      ["$.data.X.dtype", "expected dtype float32"]),
    "y too short": (lambda d: d["data"]["y"].pop(), ["$.data.y:", "199 labels for 200 points"]),
    "label out of range": (_set(("data", "y", 5), 7), ["$.data.y[5]", "label 7 is out of range 0..1"]),
    "label not an integer": (_set(("data", "y", 5), 0.5), ["$.data.y[5]", "expected a class label"]),
    "id out of range": (_set(("data", "train_ids", 3), 10**6), ["$.data.train_ids[3]", "out of range 0..199"]),
    "negative id": (_set(("selection", 0), -1), ["$.selection[0]", "out of range"]),
    "duplicate id": (lambda d: d["data"]["test_ids"].append(d["data"]["test_ids"][0]),
                     ["$.data.test_ids", "appears more than once"]),
    "train/test overlap": (lambda d: d["data"]["test_ids"].append(d["data"]["train_ids"][0]),
                           ["$.data.test_ids", "in both the training and the test split"]),
    "step forgets a test point": (lambda d: d["steps"][0]["ids"].append(_first_test_id(d)),
                                  ["$.steps[0].ids[8]", "is not a training point still there to forget"]),
    "point forgotten twice": (lambda d: d["steps"][1]["ids"].append(d["steps"][0]["ids"][0]),
                              ["$.steps[1].ids[10]", "forgotten in an earlier step"]),
    "selection holds a forgotten point": (lambda d: d["selection"].append(d["steps"][0]["ids"][0]),
                                          ["$.selection[5]", "already forgotten"]),
    "NaN literal": (_set(("model_config", "lr"), float("nan")), ["$.model_config.lr", "nan is not a finite"]),
    "Infinity literal": (_set(("steps", 0, "seconds"), float("inf")), ["$.steps[0].seconds", "inf is not a finite"]),
    "NaN in a history": (_set(("fit_history", 2, "loss"), float("nan")), ["$.fit_history[2].loss", "not a finite"]),
    "NaN in hyperparameters": (_set(("steps", 0, "hyperparameters", "sigma"), float("-inf")),
                               ['$.steps[0].hyperparameters["sigma"]', "not a finite number"]),
    "NaN in metrics": (_set(("metrics", "per_step", 1, "mia"), float("nan")),
                       ['$.metrics["per_step"][1]["mia"]', "not a finite number"]),
    "non-finite X": (_nan_x, ["$.data.X", "non-finite value nan at index [2, 1]"]),
    "non-finite weight": (_nan_weight, ['$.original.state["net.0.weight"]', "non-finite value inf"]),
    "width does not match": (_set(("model_config", "width"), 32),
                             ['$.original.state["net.0.weight"].shape', "expected shape [32, 2] (the model in "
                              "$.model_config: depth 2, width 32, 2 classes), found [64, 2]"]),
    "depth does not match": (_set(("model_config", "depth"), 3),
                             ["$.original.state", "do not fit the model config", "missing net.6.weight"]),
    "weights of another shape": (
        lambda d: d["steps"][1]["model"]["state"].__setitem__("net.4.bias", tensor_doc(np.zeros(3, np.float32))),
        ['$.steps[1].model.state["net.4.bias"].shape', "expected shape [2] (the model in", "found [3]"]),
    "bad base64": (_set(("original", "state", "net.0.bias", "data"), "not*base64"),
                   ['$.original.state["net.0.bias"].data', "not valid base64"]),
    "truncated tensor": (lambda d: d["data"]["X"].__setitem__("data", d["data"]["X"]["data"][:-8]),
                         ["$.data.X.data", "bytes of data", "needs 1600"]),
    "damaged zlib": (lambda d: d["steps"][0]["frames"].__setitem__("data", base64.b64encode(b"xyz").decode()),
                     ["$.steps[0].frames.data", "zlib stream is damaged"]),
    "frames do not match frame_steps": (lambda d: d["steps"][0]["frame_steps"].append(99),
                                        ["$.steps[0].frames.shape", "expected shape"]),
    "unknown method": (_set(("steps", 1, "method"), "magic"), ["$.steps[1].method", "unknown method 'magic'"]),
    "steps without an original": (_set(("original",), None), ["$.steps", "no original model"]),
    "unknown activation": (_set(("model_config", "activation"), "swish"), ["$.model_config.activation", "swish"]),
    "bool where an int goes": (_set(("model_config", "depth"), True), ["$.model_config.depth", "found a boolean"]),
    "bad grid": (_set(("grid", "bounds"), [1, 0, 0, 1]), ["$.grid.bounds", "x0 < x1"]),
    "unknown optimizer": (_set(("original", "fit_recipe", "optimizer"), "sgd"),
                          ["$.original.fit_recipe.optimizer", "unknown optimizer 'sgd'"]),
    "wrong type": (_set(("steps",), {}), ["$.steps", "expected a JSON list, found an object"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_file_is_rejected_with_a_precise_message(case):
    mutate, expected = BAD[case]
    d = doc()
    mutate(d)
    msg = load_error(dump(d))
    assert msg.startswith("Cannot load the session file: at $")
    for part in expected:
        assert part in msg, (part, msg)
    assert "save the session again" in msg or "update the app" in msg or "Choose" in msg


@pytest.mark.parametrize("text, expected", [
    ("{not json", ["not valid JSON", "line 1, column 2", "Choose a .json session file"]),
    ("", ["not valid JSON"]),
    (b"\xff\xfe{}", ["not UTF-8"]),
    ("[1, 2]", ["at $:", "expected a JSON object, found a list"]),
    ("[" * 100_000 + "]" * 100_000, ["nested too deeply"]),
    ('{"format": "jit-playground-session", "version": 1, "x": 1e999}', ["missing key 'data'"]),
    ('{"format": "jit-playground-session", "version": true}', ["$.version", "version True"]),
])
def test_not_a_session_file(text, expected):
    msg = load_error(text)
    for part in expected:
        assert part in msg, (part, msg)


def test_huge_numbers_are_non_finite():
    text = saved()[1].replace('"seconds":', '"seconds":1e999,"old":', 1)
    assert "$.steps[0].seconds: inf is not a finite number" in load_error(text)


def test_too_large(monkeypatch):
    text = saved()[1]
    monkeypatch.setattr(session_file, "MAX_BYTES", 10_000)
    msg = load_error(text)
    assert "at $: the file has" in msg and "MB limit" in msg and "Choose a smaller session file" in msg
    assert "MB limit" in load_error(text.encode())
    monkeypatch.setattr(session_file, "MAX_BYTES", 50 * 2**20)
    monkeypatch.setattr(session, "LIMITS", dataclasses.replace(session.LIMITS, points=100))
    msg = load_error(text)
    assert "$.data.X: 200 points; a session holds 1 to 100" in msg


def test_decoded_size_is_capped(monkeypatch):
    monkeypatch.setattr(session, "LIMITS", dataclasses.replace(session.LIMITS, max_decoded=1000))  # X: 1600 bytes
    assert "$.data.X: the arrays would take more than" in load_error(saved()[1])


def test_model_too_big_for_a_file():
    d = doc()
    d["model_config"].update(width=4096, depth=16)
    assert "too many for a session file" in load_error(dump(d))


def test_compressed_frames_cannot_expand_past_their_shape():
    d = doc()
    frames = d["steps"][0]["frames"]
    frames["data"] = base64.b64encode(zlib.compress(bytes(10**6))).decode()
    assert "$.steps[0].frames.data" in load_error(dump(d))


# --- fuzz: any mutation of a valid file loads or raises ValueError ---------------------------


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:6]):  # a few entries of each list are enough
            yield from _paths(v, path + (i,))


@functools.lru_cache(maxsize=None)
def all_paths():
    return [p for p in _paths(doc()) if p]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.integers(-3, 300)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["jit", "relu", "float32", "uint8", "zlib", "AAAA", "net.0.weight", "generated"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _mutate(d, path, op, value, pos, char):
    parent = d
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    old = parent[key]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = value
    elif op == "tweak" and isinstance(old, bool):
        parent[key] = not old
    elif op == "tweak" and isinstance(old, (int, float)):
        parent[key] = [old + 1, old - 1, -old, old * 1000, 0][pos % 5]
    elif op == "tweak" and isinstance(old, str):
        i = pos % (len(old) + 1)
        parent[key] = [old[:i], old[:i] + char + old[i + 1:], old + char][pos % 3]
    elif op == "tweak" and isinstance(old, list):
        parent[key] = old[: pos % (len(old) + 1)] if pos % 2 else old + old[:1]
    elif op == "tweak" and isinstance(old, dict):
        parent[key] = {**old, char: value}
    else:
        parent[key] = value


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.slow
def test_fuzz_mutated_files_load_or_raise_value_error(data):
    paths = all_paths()
    d = doc()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            _mutate(d, path, data.draw(st.sampled_from(["delete", "replace", "tweak", "tweak"])),
                    data.draw(json_values), data.draw(st.integers(0, 10**6)),
                    data.draw(st.sampled_from(list("A/+=!0 é\"\\x"))))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed the path
    text = dump(d)
    if data.draw(st.integers(0, 4)) == 0:  # text-level damage too, now and then
        i = data.draw(st.integers(0, len(text)))
        text = text[:i] + data.draw(st.sampled_from(["", "}", "x", "\x00", "NaN", "1e999"])) + \
            text[i + data.draw(st.integers(0, 3)):]
    try:
        ws = session_from_json(text)
    except ValueError:
        return
    # it loaded: it is a usable workspace
    assert ws.X.shape[1] == 2 and len(ws.y) == len(ws.X)
    if ws.model is not None:
        logits(ws.model, ws.X[:5])


# --- HTML ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def animated():
    ws = saved()[0]
    step = ws.steps[0]
    frames = [Layers(s, c) for s, c in step.frames]
    return canvas_figure(ws.gridspec, ws.X, ws.y, n_classes=ws.n_classes, layers=frames[-1],
                         train_ids=ws.train_ids, test_ids=ws.test_ids, forgotten=ws.forgotten, frames=frames,
                         frame_steps=step.frame_steps, title="after JiT"), step.frame_steps


def test_animation_html_is_standalone():
    fig, steps = animated()
    page = animation_html(fig, title="Forgetting <8> points").decode("utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "<title>Forgetting &lt;8&gt; points</title>" in page
    assert "plotly.js v" in page and len(page) > 3_000_000  # plotly.js inline, no CDN script tag
    assert '<script src="https://cdn.plot.ly' not in page
    assert "Plotly.addFrames" in page and "Plotly.animate" not in page  # paused until Play
    for s in steps:
        assert f'"name":"{s}"' in page
    assert "updatemenus" in page and "sliders" in page
    assert "\\u002f" not in "".join(page.split('"bdata":"')[1:2])


def test_static_figure_drops_the_animation():
    fig, steps = animated()
    d = static_figure(fig)
    assert "frames" not in d and "updatemenus" not in d["layout"] and "sliders" not in d["layout"]
    assert d["layout"]["height"] == fig["layout"]["height"] - 80 and d["layout"]["margin"]["b"] == 30
    assert "frames" in fig and "sliders" in fig["layout"]  # the input is untouched
    first = static_figure(fig, frame=str(steps[0]))
    assert first["data"][0]["z"] != d["data"][0]["z"]  # the first frame's background (base64 spec)
    with pytest.raises(ValueError, match="no animation frame named 'nope'"):
        static_figure(fig, frame="nope")


@needs_chromium
@pytest.mark.slow
def test_animation_html_renders_in_chromium(tmp_path):
    fig, _ = animated()
    page = tmp_path / "anim.html"
    page.write_bytes(animation_html(fig))
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}", "--virtual-time-budget=3000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60).stdout
    assert "heatmaplayer" in out and "slider-container" in out and "updatemenu-button" in out


# --- PNG ----------------------------------------------------------------------------------------


def png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def renderer():
    yield
    png.stop_png_renderer()


@needs_chromium
@pytest.mark.slow
def test_figure_png(renderer):
    fig, steps = animated()
    t = time.perf_counter()
    first = figure_png(fig)  # starts the browser
    t1 = time.perf_counter() - t
    again = figure_png(fig, scale=1, width=500, frame=str(steps[0]))  # reuses it
    t2 = time.perf_counter() - t - t1
    w = fig["layout"].get("width", 700)  # Kaleido's default width
    h = fig["layout"]["height"] - 80  # the animation controls are gone
    assert png_size(first) == (2 * w, 2 * h)
    assert png_size(again) == (500, h)
    assert t1 + t2 < 15
    print(f"PNG: first call {t1:.2f} s, second {t2:.2f} s")


@needs_chromium
@pytest.mark.slow
def test_broken_browser_fails_fast_then_recovers(monkeypatch, renderer):
    if not os.access("/bin/true", os.X_OK):
        pytest.skip("needs /bin/true")
    monkeypatch.setenv("BROWSER_PATH", "/bin/true")
    t = time.perf_counter()
    with pytest.raises(RuntimeError, match="Starting the browser for PNG export"):
        figure_png(figure_for(saved()[0], saved()[0].layers(saved()[0].original)))
    assert time.perf_counter() - t < 30
    monkeypatch.delenv("BROWSER_PATH")
    assert png_size(figure_png({"data": [{"type": "scatter", "x": [0, 1], "y": [1, 0]}],
                                "layout": {"width": 200, "height": 100}}, scale=1)) == (200, 100)


def test_missing_browser_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    with pytest.raises(RuntimeError, match="BROWSER_PATH=.*no-such-chrome.*apt-get install chromium"):
        figure_png(animated()[0])
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setattr(png, "SYSTEM_CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(png.shutil, "which", lambda name: None)
    monkeypatch.setattr(png, "_kaleido_browser", lambda: None)
    with pytest.raises(RuntimeError, match="none was found.*apt-get install chromium.*BROWSER_PATH"):
        figure_png(animated()[0])


def test_png_scale_is_checked():
    if CHROMIUM is None:
        pytest.skip("the browser check comes first")
    with pytest.raises(ValueError, match="scale"):
        figure_png(animated()[0], scale=0)
    with pytest.raises(ValueError, match="width"):
        figure_png(animated()[0], width="wide")


def test_formats_are_documented():
    d = doc()
    assert (d["format"], d["version"]) == ("jit-playground-session", 1)
    assert set(d) >= {"data", "model_config", "grid", "selection", "original", "fit_history", "steps", "metrics"}
    assert d["original"]["state"]["net.0.weight"]["dtype"] == "float32"
    assert d["steps"][0]["frames"]["compression"] == "zlib"
    assert math.isfinite(d["steps"][0]["seconds"])
