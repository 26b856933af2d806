"""A session upload may hold what the app itself can produce, and nothing is decoded before that is known.

Issue 14, part 1: a 0.51 MB upload (20 steps x 60 frames x 400x400 compressed zeros) made the server
allocate about 450 MB. These tests load such files in process and measure the loader's peak allocation
with tracemalloc (numpy and zlib buffers are traced), and check that the bound is checked from the
arrays' declared shapes before any array is decoded.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import json
import tracemalloc
import zlib

import numpy as np
import pytest

from ui.state import memory, session, workspace
from unlearn_core import session_file
from ui.state.session import SessionFileError, load_session, session_to_json
from ui.state.workspace import GRID_RESOLUTION, MAX_FRAMES, MAX_STEPS, ModelConfig, new_workspace

MB = 2**20


@functools.lru_cache(maxsize=None)
def saved_text() -> str:
    """A small valid session: 160 moons points, a 1 x 8 MLP, one JiT step with frames."""
    ws = new_workspace("moons", n_samples=160, seed=0, model_cfg=ModelConfig(width=8, depth=1, epochs=5, seed=0))
    ws.train()
    ws.select(ws.train_ids[:4])
    ws.forget("jit")
    return session_to_json(ws)


def frames_doc(n_frames: int, res: int) -> dict:
    raw = zlib.compress(bytes(n_frames * 2 * res * res), 9)
    return {"dtype": "uint8", "shape": [n_frames, 2, res, res], "compression": "zlib",
            "data": base64.b64encode(raw).decode()}


def many_steps(n_steps: int, n_frames: int, res: int) -> str:
    """The valid session with ``n_steps`` forget steps of one point each, every one with ``n_frames``
    zero frames on a ``res`` x ``res`` grid (zeros compress to almost nothing)."""
    d = json.loads(saved_text())
    first = d["steps"][0]
    d["grid"]["resolution"] = res
    free = [i for i in d["data"]["train_ids"] if i not in first["ids"]]
    d["selection"] = []
    frames = frames_doc(n_frames, res)
    steps = []
    for i in range(n_steps):
        s = copy.deepcopy(first)
        s["ids"] = [free[i]]
        s["frame_steps"] = list(range(n_frames))
        s["frames"] = frames
        steps.append(s)
    d["steps"] = steps
    return json.dumps(d)


def peak_of(fn, *args):
    """(result or raised exception, peak bytes traced while ``fn`` ran)."""
    tracemalloc.start()
    try:
        try:
            out = fn(*args)
        except Exception as err:  # noqa: BLE001 - returned to the test to assert on
            out = err
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail if any array of the file is decoded."""
    saved_text()  # saving loads the file back: do it before

    def refuse(self, **kw):
        raise AssertionError(f"{self.path} was decoded before the file's bounds were checked")
    monkeypatch.setattr(session_file._Array, "decode", refuse)


def test_the_issues_upload_is_refused_before_anything_is_decoded(no_decoding):
    text = many_steps(20, 60, 400)  # the issue's file: 384 MB of frames declared
    assert len(text) < 1 * MB
    err, peak = peak_of(load_session, text)
    assert isinstance(err, SessionFileError), err
    assert "$.grid.resolution" in str(err) and f"out of range 2..{GRID_RESOLUTION}" in str(err)
    assert peak < 8 * len(text) + 4 * MB, f"{peak / MB:.1f} MB traced for a {len(text) / MB:.2f} MB file"


def test_more_requests_than_the_app_keeps_are_refused(no_decoding):
    err, peak = peak_of(load_session, many_steps(MAX_STEPS + 1, MAX_FRAMES, GRID_RESOLUTION))
    assert isinstance(err, SessionFileError), err
    assert "$.steps" in str(err) and f"more than the limit of {MAX_STEPS}" in str(err)
    assert f"at most {MAX_STEPS} forget requests" in str(err)
    assert peak < 32 * MB


def test_more_frames_than_the_app_records_are_refused(no_decoding):
    with pytest.raises(SessionFileError, match=r"\$\.steps\[0\]\.frame_steps: has 61 entries"):
        load_session(many_steps(1, MAX_FRAMES + 1, GRID_RESOLUTION))


def test_the_total_is_checked_from_declared_shapes_before_decoding(monkeypatch, no_decoding):
    # every item within the app's limits, but more bytes in all than allowed: refused before any decode
    text = many_steps(5, MAX_FRAMES, GRID_RESOLUTION)
    monkeypatch.setattr(session, "LIMITS", dataclasses.replace(session.LIMITS,
                                                              max_decoded=3 * MAX_FRAMES * 2 * GRID_RESOLUTION ** 2))
    with pytest.raises(SessionFileError, match=r"\$\.steps\[2\]\.frames: the arrays would take more than"):
        load_session(text)


def test_the_largest_session_the_app_makes_loads_within_its_bound():
    """MAX_STEPS requests with MAX_FRAMES frames each on the app's grid: it loads, and the loader's
    peak stays near what the workspace then holds (no doubled copies of the frames)."""
    text = many_steps(MAX_STEPS, MAX_FRAMES, GRID_RESOLUTION)
    frames_bytes = MAX_STEPS * MAX_FRAMES * 2 * GRID_RESOLUTION ** 2
    (ws, _), peak = peak_of(load_session, text)
    assert len(ws.steps) == MAX_STEPS and all(len(s.frames) == MAX_FRAMES for s in ws.steps)
    assert frames_bytes <= session.MAX_DECODED
    assert peak < frames_bytes + 10 * len(text) + 16 * MB, f"{peak / MB:.1f} MB for {frames_bytes / MB:.0f} MB of frames"


def test_decoded_budget_is_what_the_app_can_produce():
    assert session.MAX_DECODED < 64 * MB  # was 400 MB
    assert session.MAX_RESOLUTION == GRID_RESOLUTION
    biggest = ModelConfig(width=256, depth=4)
    assert session.MAX_PARAMS == sum(p.numel() for p in biggest.build(session.MAX_CLASSES).parameters())


def test_the_core_reader_defaults_are_the_apps_limits():
    """The bench's --session reads with the core's default limits: exactly what the app can save."""
    assert session_file.SessionLimits() == session.LIMITS


def test_a_model_larger_than_the_apps_is_refused(no_decoding):
    d = json.loads(saved_text())
    d["model_config"].update(width=512, depth=4)
    with pytest.raises(SessionFileError, match="too many for a session file"):
        load_session(json.dumps(d))


def test_epochs_beyond_the_apps_limit_are_refused():
    # a loaded session retrains with its recipe: 10**6 epochs would hold a server thread for hours
    d = json.loads(saved_text())
    d["model_config"]["epochs"] = 10**6
    with pytest.raises(SessionFileError, match=r"\$\.model_config\.epochs"):
        load_session(json.dumps(d))


def test_many_tiny_json_values_are_refused_before_parsing():
    text = '{"format": "jit-playground-session", "version": 1, "metrics": [' + "[]," * 2_000_000 + "[]]}"
    err, peak = peak_of(load_session, text)
    assert isinstance(err, SessionFileError) and "JSON values" in str(err), err
    assert peak < 2 * len(text) + 4 * MB, f"{peak / MB:.0f} MB traced"  # json.loads would build 2M lists


def test_histories_are_bounded_over_the_whole_file(monkeypatch):
    monkeypatch.setattr(session_file, "MAX_HISTORY", 10)
    d = json.loads(saved_text())
    d["fit_history"] = d["fit_history"][:6]
    d["steps"][0]["history"] = [{"step": i, "loss": 0.5} for i in range(6)]
    with pytest.raises(SessionFileError, match="histories hold more than 10"):
        load_session(json.dumps(d))


def test_the_workspace_keeps_at_most_max_steps(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_STEPS", 1)
    ws = session.session_from_json(saved_text())
    ws.select(ws.retain_ids()[:2])
    error, _ = ws.check_forget(ws.selection)
    assert error is not None and "1 forget requests" in error and "Undo or reset" in error
    with pytest.raises(ValueError, match="Undo or reset"):
        ws.forget("jit")
    assert len(ws.steps) == 1


def test_session_files_keep_frames_of_the_apps_grid():
    ws = session.session_from_json(saved_text())
    assert ws.gridspec.resolution == GRID_RESOLUTION
    assert ws.steps[0].frames[0][0].shape == (GRID_RESOLUTION, GRID_RESOLUTION)
    assert ws.steps[0].frames[0][0].flags.writeable
    assert all(np.isfinite(p.detach().numpy()).all() for p in ws.original.parameters())


def test_freed_memory_goes_back_at_most_once_per_interval():
    first = memory.release_freed(min_interval_s=0.0)  # runs (True where glibc returned something)
    assert isinstance(first, bool)
    assert memory.release_freed(min_interval_s=3600.0) is False  # too soon after: skipped
    assert isinstance(memory.tune_allocator(), bool)
