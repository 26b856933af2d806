"""Fuzz the session loader (issue 14, part 5): from any document, ValueError or a usable Workspace.

Before the fix, 64 of 4,000 fuzzed documents raised something else (``float()`` on a 400-digit integer
raised OverflowError; ``config.from_query`` on unchecked saved settings raised TypeError), and the page
had already swapped the workspace in by then. Now the loader checks everything, the saved settings
included, before it returns a new Workspace, and the page's follow-up (``config.from_query`` on
``metrics["config"]``) cannot fail. Three strategies: structured random JSON documents (the right
header and keys, random values), random subtrees put into a valid saved session, and text-level damage.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ui.state import config
from ui.state.session import load_session, session_to_json
from ui.state.workspace import ModelConfig, new_workspace

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans()
           | st.integers(-2**70, 2**70) | st.integers(-10**400, 10**400)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12)
           | st.sampled_from(["jit", "relu", "moons", "uint8", "float32", "zlib", "AAAA", "generated", "1e999",
                              "true", "-0", "nan"]))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.sampled_from(
                               ["dtype", "shape", "data", "ids", "state", "bounds", "resolution", "config"]),
                               kids, max_size=4), max_leaves=20)


@functools.lru_cache(maxsize=None)
def saved() -> str:
    """A valid session with two forget steps, frames, a selection and the page's saved settings."""
    ws = new_workspace("moons", n_samples=120, seed=0, model_cfg=ModelConfig(width=8, depth=1, epochs=5, seed=0))
    ws.train()
    for rows in (slice(0, 3), slice(5, 7)):
        ws.select(ws.train_ids[rows])
        ws.forget("jit")
    ws.select(ws.train_ids[10:12])
    cfg = config.Config(dataset="moons", n=120, seed=0, width=8, depth=1, fit_epochs=10)
    return session_to_json(ws, metrics={"config": config.to_query(cfg), "acc": [0.5, 0.25]})


@functools.lru_cache(maxsize=None)
def saved_doc() -> dict:
    return json.loads(saved())


def paths(node, here=()):
    """Every path (tuple of keys / indices) into a JSON document."""
    yield here
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, here + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:6]):
            yield from paths(v, here + (i,))


@functools.lru_cache(maxsize=None)
def all_paths() -> list[tuple]:
    return [p for p in paths(saved_doc()) if p]


def put(doc, path, value, delete=False):
    node = doc
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def fingerprint(ws) -> str:
    """Everything a page shows of a workspace, hashed (points, splits, weights, steps, selection)."""
    h = hashlib.sha256()
    for a in (ws.X, ws.y, ws.train_ids, ws.test_ids, np.asarray(sorted(ws.selection))):
        h.update(np.ascontiguousarray(a).tobytes())
    for m in [ws.original] + [s.model for s in ws.steps]:
        for t in m.state_dict().values():
            h.update(t.numpy().tobytes())
    h.update(repr([(s.ids.tolist(), s.method, s.frame_steps) for s in ws.steps]).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def current():
    """The workspace a session holds while a file is being loaded; it must come out unchanged."""
    ws = load_session(saved())[0]
    return ws, fingerprint(ws)


def page_load(state: dict, data) -> bool:
    """What the Playground does with an uploaded file (app_pages/playground.py, load_session_file):
    load, swap the workspace in, then read the saved settings. Returns whether it loaded."""
    try:
        loaded, extra = load_session(data)
    except ValueError:
        return False
    state["workspace"] = loaded
    saved_cfg = (extra or {}).get("config")
    if isinstance(saved_cfg, dict):
        state["cfg"] = config.from_query(saved_cfg)[0]  # must not fail once the workspace is swapped in
    return True


def check(data) -> None:
    ws, before = current()
    state = {"workspace": ws}
    if page_load(state, data):
        new = state["workspace"]
        assert new is not ws
        assert new.X.shape[1] == 2 and len(new.y) == len(new.X)
        if new.model is not None:
            new.layers(new.model)  # the page draws it: must work
    else:
        assert state["workspace"] is ws
    assert fingerprint(ws) == before  # loading (or failing to) never touches the current workspace


@pytest.mark.slow
@FUZZ
@given(st.dictionaries(st.sampled_from(["data", "model_config", "grid", "selection", "original", "fit_history",
                                        "steps", "metrics"]), json_values, max_size=8))
def test_structured_random_documents(body):
    check(json.dumps({"format": "jit-playground-session", "version": 1, **body}))


@pytest.mark.slow
@FUZZ
@given(json_values)
def test_random_json(value):
    check(json.dumps(value))


@pytest.mark.slow
@FUZZ
@given(st.data())
def test_mutations_of_a_valid_session(data):
    d = copy.deepcopy(saved_doc())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(all_paths()))
        try:
            put(d, path, data.draw(json_values), delete=data.draw(st.booleans()))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or replaced the path
    check(json.dumps(d))


@pytest.mark.slow
@FUZZ
@given(st.dictionaries(st.sampled_from(["dataset", "n", "noise", "classes", "seed", "test", "width", "depth",
                                        "fit_epochs", "fit_lr", "method", "activation", "device", "hide", "sigma",
                                        "lr", "normalize_step", "epochs"]) | st.text(max_size=6),
                       json_values, max_size=8))
def test_random_saved_settings(settings_doc):
    d = copy.deepcopy(saved_doc())
    d["metrics"]["config"] = settings_doc
    check(json.dumps(d))


@pytest.mark.slow
@FUZZ
@given(st.integers(0, 10**9), st.sampled_from(["", "}", "]", "x", "\x00", "NaN", "1e999", "9" * 400, '"', ","]),
       st.integers(0, 3))
def test_text_damage(at, insert, cut):
    text = saved()
    i = at % (len(text) + 1)
    check(text[:i] + insert + text[i + cut:])
    check((text[:i] + insert + text[i + cut:]).encode("utf-8"))


def test_known_cases():
    """The two failures the issue names, and bytes that are not UTF-8."""
    d = copy.deepcopy(saved_doc())
    d["steps"][0]["seconds"] = 10**400  # float() raised OverflowError
    check(json.dumps(d))
    d = copy.deepcopy(saved_doc())
    d["metrics"]["config"] = {"dataset": ["moons", ["x"]], "n": 10**400, "seed": {"a": 1}, "hide": [1, 2]}
    check(json.dumps(d))
    check(b"\xff\xfe" + saved().encode())
