"""Live mode's worker (ui/state/live.py): frames stream in order and are real optimiser steps, a diverged or
failing run is reported and not applied, a stale run is discarded, a cancelled one stops."""
import threading

import numpy as np
import pytest

from ui.state.grids import encode
from ui.state.live import APPLIED, CANCELLED, DIVERGED, FAILED, STALE, LiveRun
from ui.state.workspace import new_workspace

HP = dict(batch_size=1, epochs=2, lr=0.01)


@pytest.fixture(scope="module")
def trained():
    ws = new_workspace("moons", n_samples=200, seed=0)
    ws.model_cfg.epochs = 30
    ws.train()
    return ws


def fresh(trained, k=4, seed=1):
    ws = new_workspace("moons", n_samples=200, seed=0)
    ws.model_cfg = trained.model_cfg
    ws.original = trained.original
    ws.select_random(k, seed=seed)
    return ws


def test_frames_stream_in_order_are_real_steps_and_the_result_applies(trained):
    ws = fresh(trained)
    chosen = set(ws.selection)
    before = list(ws.steps)
    seen = []
    run = LiveRun(ws, "jit", HP)
    orig = run._on_frame

    def spy(step, shade):  # what the worker hands over, when
        orig(step, shade)
        seen.append(run.frames()[1])
    run._on_frame = spy
    run.start()
    assert run.wait_for_step(30)
    assert run.join(60) and run.status == "done"
    assert ws.steps == before and ws.selection == chosen, "the worker touched the page's workspace"
    snapshots = [s for s in seen]
    assert all(a == sorted(a) for a in snapshots) and snapshots[0] == [0]
    assert all(len(a) <= len(b) for a, b in zip(snapshots, snapshots[1:])), "frames went missing while streaming"
    frames, steps = run.frames()
    n_steps = len(run.step.history)
    assert n_steps == 8 and steps == list(range(n_steps + 1))
    assert [h["step"] for h in run.step.history] == steps[1:]
    # every streamed frame is the grid of the model after that optimiser step: the last is the model now
    np.testing.assert_array_equal(frames[-1], encode(run.step.model, ws.gridspec, ws.n_classes)[0])
    np.testing.assert_array_equal(frames[0], encode(ws.original, ws.gridspec, ws.n_classes)[0])
    for f, (s, _) in zip(frames, run.step.frames):
        np.testing.assert_array_equal(f, s)
    extra = next(i for i in ws.train_ids if int(i) not in chosen)
    ws.select([extra])  # selected while the run was going: stays selected
    assert run.outcome(ws) == APPLIED and ws.steps[-1] is run.step
    assert ws.selection == {int(extra)}
    assert run.outcome(ws) == APPLIED and len(ws.steps) == 1, "applied twice"


def test_a_long_run_keeps_at_most_max_frames_all_real_steps(trained):
    ws = fresh(trained, k=10)
    run = LiveRun(ws, "jit", dict(batch_size=1, epochs=6, lr=0.005), max_frames=8).start()
    assert run.join(120) and run.status == "done"
    frames, steps = run.frames()
    assert len(frames) <= 8 and steps[0] == 0 and steps[-1] == 60
    assert steps == sorted(set(steps)) and len(steps) >= 5
    assert all(0 <= s <= 60 for s in steps)


def test_the_newest_step_is_always_shown_while_the_buffer_thins():
    """The stride doubles when the buffer fills; the newest frame must never fall out (the player would step back)."""
    ws = new_workspace("moons", n_samples=50, seed=0)
    run = LiveRun(ws, "jit", HP, max_frames=6)
    grid = np.zeros((2, 2), np.uint8)
    for step in range(0, 200):
        run._on_frame(step, grid)
        frames, steps = run.frames()
        assert steps[-1] == step and steps[0] == 0, (step, steps)
        assert len(frames) <= 6 and steps == sorted(set(steps))


def test_a_diverged_run_is_reported_with_its_frames_and_not_applied(trained):
    ws = fresh(trained)
    run = LiveRun(ws, "jit", dict(batch_size=1, epochs=3, lr=1e6, normalize_step="off")).start()
    assert run.join(60)
    assert run.status == DIVERGED, run.status
    assert run.outcome(ws) == DIVERGED and not ws.steps and ws.selection
    assert run.error.frames and "diverged" in run.message()


def test_an_error_in_the_worker_reaches_the_page_as_a_message(trained):
    ws = fresh(trained)
    run = LiveRun(ws, "jit", dict(HP, no_such_option=1)).start()
    assert run.join(60) and run.status == FAILED
    assert run.outcome(ws) == FAILED and not ws.steps
    assert "error" in run.message() and run.trace


def test_a_stale_run_is_discarded(trained):
    ws = fresh(trained)
    run = LiveRun(ws, "jit", HP).start()
    assert run.join(60) and run.status == "done"
    other = fresh(trained)  # the data changed meanwhile: another workspace
    assert run.outcome(other) == STALE and not other.steps and not ws.steps
    ws2 = fresh(trained)
    run2 = LiveRun(ws2, "jit", HP).start()
    run2.join(60)
    ws2.steps.append(run.step)  # the history changed meanwhile (another forget)
    assert not run2.belongs_to(ws2)
    assert run2.outcome(ws2) == STALE and len(ws2.steps) == 1
    assert "not applied" in run2.message()


def test_cancel_stops_the_worker_at_its_next_frame(trained):
    ws = fresh(trained, k=10)
    gate = threading.Event()
    run = LiveRun(ws, "jit", dict(batch_size=1, epochs=20, lr=0.001))
    orig = run._on_frame

    def slow(step, shade):
        orig(step, shade)
        if step == 2:
            gate.set()
    run._on_frame = slow
    run.start()
    assert gate.wait(60)
    run.cancel()
    assert run.join(60) and run.status == CANCELLED
    assert run.outcome(ws) == CANCELLED and not ws.steps
    assert run.last_step() < 200


# --- what a live tick sends (app_pages/live.py) --------------------------------------------------------------

def test_a_live_tick_leaves_out_what_the_canvas_held_three_payloads_ago_and_a_resend_sends_all(monkeypatch):
    import streamlit as st

    from app_pages import live as page_live

    ss: dict = {}
    monkeypatch.setattr(st, "session_state", ss)
    monkeypatch.setattr(page_live, "DELTA", True)

    def payload(steps, run="live:1", live=True):
        return {"run": run, "live": live, "steps": steps, "frames": [f"f{s}" for s in steps]}

    sent = [page_live._new_frames_only(payload(s)) for s in ([0, 1], [0, 1, 2], [0, 1, 2, 3], [0, 2, 3, 4, 5],
                                                              [0, 2, 4, 5, 6])]
    assert "new_steps" not in sent[0] and sent[0]["frames"] == ["f0", "f1"]  # the first: whole
    assert sent[1]["new_steps"] == [2] and sent[2]["new_steps"] == [2, 3]  # against the first, while 3 are not out
    assert sent[3]["new_steps"] == [2, 3, 4, 5]  # against the first: the canvas may have missed the two before
    assert sent[4]["new_steps"] == [4, 5, 6] and sent[4]["frames"] == ["f4", "f5", "f6"]  # against the second
    assert sent[4]["steps"] == [0, 2, 4, 5, 6]
    other = page_live._new_frames_only(payload([0, 1], run="live:2"))  # another run: whole
    assert "new_steps" not in other
    # the canvas asks for everything: the next tick is whole; its other gestures still reach the page
    heard = []
    ss["canvas"] = {"event": {"kind": "resend"}}
    page_live._gesture(lambda: heard.append(1), "canvas")
    assert page_live.SENT_KEY not in ss and not heard and page_live._GESTURE_KEY not in ss
    assert "new_steps" not in page_live._new_frames_only(payload([0, 1, 2], run="live:2"))
    ss["canvas"] = {"event": {"kind": "select", "seq": 3, "selection": [1]}}
    page_live._gesture(lambda: heard.append(1), "canvas")
    assert heard == [1] and ss[page_live._GESTURE_KEY] is True
    # a payload that is not live goes whole and forgets what went out
    done = page_live._new_frames_only(payload([0, 1, 2], run="live:2", live=False))
    assert "new_steps" not in done and page_live.SENT_KEY not in ss
