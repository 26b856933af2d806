"""Live mode on the Playground: the canvas component, mounted by a fragment that streams a running forget.

The canvas is always mounted through ``mount_canvas`` (so its place in the page, and with it the component in
the browser, zoom, tool and playback included, stays the same in every run). While a ``ui.state.live.LiveRun``
is going the fragment reruns every ``TICK_S`` seconds and re-sends the canvas with the frames so far (same
key: the browser keeps the component, which appends them to the running animation; after the first payload
only the frames it does not hold yet travel); once the run has ended
it reruns the whole page, which applies the result (``finish``) and draws the rest (loss chart, metrics,
history, the retrain band). A gesture on the canvas (a widget in the fragment) would rerun only the fragment:
it reruns the whole page too, as before.

Where nothing can tick a fragment (AppTest, bare mode: no browser headers) the page waits for the run instead.
"""
from __future__ import annotations

import os
from typing import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.canvas_component import canvas as canvas_component
from app_pages.canvas_component import event_of
from ui.views.canvas_payload import only_new_frames
from ui.state.live import APPLIED, CANCELLED, DIVERGED, STALE, LiveRun

#: Live mode on (default) or off (PLAYGROUND_LIVE=0: the forget runs in the page's script, as before issue 12;
#: for comparisons such as benchmarks/browser_canvas.py's breakdown).
ENABLED = os.environ.get("PLAYGROUND_LIVE", "1").strip() != "0"
#: Seconds between two fragment runs while a forget streams (each sends the frames so far; the player plays
#: them at its own speed). Measured under load (2 cores, load average 5): a 200-step run took 4.5 s with 0.5 s
#: ticks and 33 s with 0.3 s (each tick costs the server and the browser a page update, which starves the
#: worker thread); alone the same run takes 1.2 s.
TICK_S = 0.5
#: Each payload of a streaming run after the first carries only the frames the canvas does not hold yet
#: (``only_new_frames``); PLAYGROUND_LIVE_DELTA=0 re-sends every frame each tick (benchmarks/live_traffic.py
#: compares the two).
DELTA = os.environ.get("PLAYGROUND_LIVE_DELTA", "1").strip() != "0"
#: How long the page waits for the first optimiser step before it shows the canvas without it.
FIRST_STEP_WAIT_S = 3.0
#: How long the page, once the canvas holds a run's first frames, waits for the run to end before it draws the
#: rest of itself and lets the fragment stream the run (a short run: one rerun applies it at once).
QUICK_END_S = 0.3
#: How long a page whose data changed waits for a cancelled run's worker to stop (it stops at its next frame).
CANCEL_WAIT_S = 2.0
#: Session-state keys: the running LiveRun, the run name of each live step (``id(step)`` -> name), a note.
RUN_KEY, NAMES_KEY, NOTE_KEY = "live_run", "live_run_names", "live_note"
_GESTURE_KEY = "live_canvas_gesture"
#: (run name, the steps of each of the last DELTA_BASE payloads sent for it, oldest first).
SENT_KEY = "live_sent_frames"
#: A live payload leaves out only the frames the canvas held DELTA_BASE payloads ago. The canvas does not see every
#: payload: React renders only the newest of those that arrive together, and Streamlit drops the unsent messages
#: of a script run a new run interrupts. Against the previous payload alone it lacked frames (and asked for all
#: again) 5 times in one 400-step run; so the canvas may miss up to DELTA_BASE - 1 payloads in a row (frames
#: only accumulate or are thinned away, never come back, so what it held then it still holds if it is still sent).
DELTA_BASE = 3


def can_tick() -> bool:
    """Whether a browser holds this session, so that a fragment's ``run_every`` fires (not so in AppTest)."""
    try:
        return bool(st.context.headers)
    except Exception:  # no script context (bare mode)
        return False


def fragment_rerun() -> bool:
    """Whether this script run is a fragment's own rerun (not a run of the whole page)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def current_run() -> LiveRun | None:
    return st.session_state.get(RUN_KEY)


def start(run: LiveRun) -> LiveRun:
    """Start ``run`` and keep it for the fragment (a previous run still going is cancelled)."""
    old = current_run()
    if old is not None and not old.done:
        old.cancel()
    st.session_state.pop(NOTE_KEY, None)
    st.session_state[RUN_KEY] = run.start()
    return run


def settle_run(ws) -> tuple[LiveRun | None, str | None]:
    """In a run of the whole page, before the canvas: (the run still going, or None; what happened to a run
    that ended: APPLIED, DIVERGED, "failed", STALE, CANCELLED, or None). A run that no longer belongs to the
    page's workspace (new data, undo, reset) is cancelled and dropped. Where nothing can tick the fragment,
    waits for the run to end; otherwise for its first optimiser step, so the first canvas sent holds it."""
    ss = st.session_state
    run = current_run()
    if run is None:
        return None, None
    if not run.done and not run.belongs_to(ws):
        run.cancel()  # it stops at its next frame; a stale result would be discarded anyway
        run.join(CANCEL_WAIT_S)
        ss.pop(RUN_KEY, None)
        return None, CANCELLED
    if not run.done:
        if can_tick():
            run.wait_for_step(FIRST_STEP_WAIT_S)
        else:
            run.join()
    if not run.done:
        return run, None
    ss.pop(RUN_KEY, None)
    what = run.outcome(ws)
    if what == APPLIED:
        names = {k: v for k, v in ss.get(NAMES_KEY, {}).items() if k in {id(s) for s in ws.steps}}
        names[id(run.step)] = run.name
        ss[NAMES_KEY] = names
    elif what == DIVERGED:
        err = run.error
        ss.failed_run = dict(message=str(err), frames=err.frames, frame_steps=err.frame_steps, history=err.history,
                             method=run.method, hp=run.hp)
    elif what not in (CANCELLED,):
        ss[NOTE_KEY] = ("warning" if what == STALE else "error", run.message())
    return None, what


def ends_soon(run: LiveRun | None, timeout: float = QUICK_END_S) -> bool:
    """After the canvas went out with a run's first frames: wait up to ``timeout`` s for the run to end, so
    that a short run is applied by a rerun right away instead of at the fragment's next tick."""
    return run is not None and run.join(timeout)


def run_name(step, default: str) -> str:
    """The canvas' run name for ``step``: the live run's when it streamed (so the player carries on), else
    ``default``."""
    return st.session_state.get(NAMES_KEY, {}).get(id(step), default)


def note() -> tuple[str, str] | None:
    """(kind, text) about the last run that did not apply (an error, a stale run), until the next run."""
    return st.session_state.get(NOTE_KEY)


def _canvas_fragment(make_data: Callable[[LiveRun | None], dict], on_event: Callable[[], None] | None,
                     key: str) -> None:
    ss = st.session_state
    again = fragment_rerun()
    gesture = ss.pop(_GESTURE_KEY, False)
    if again and gesture:
        st.rerun(scope="app")  # a gesture on the canvas: the whole page reads it (selection count, Forget...)
    run = current_run()
    if again and (run is None or run.done):
        st.rerun(scope="app")  # the run ended: the whole page applies it and draws the rest
    data = make_data(run if run is not None and not run.done else None)
    canvas_component(_new_frames_only(data), key=key, on_event=lambda: _gesture(on_event, key))


def _new_frames_only(data: dict) -> dict:
    """A live payload without the frames the canvas held DELTA_BASE payloads ago (a live frame never changes);
    any other payload whole. Remembers what went out."""
    ss = st.session_state
    if not (DELTA and data.get("live") and data.get("run")):
        ss.pop(SENT_KEY, None)
        return data
    run, sent = ss.get(SENT_KEY, ("", []))
    if run != data["run"]:
        sent = []
    out = only_new_frames(data, sent[0] if sent else ())
    ss[SENT_KEY] = (data["run"], [*sent, tuple(data["steps"])][-DELTA_BASE:])
    return out


def _gesture(on_event: Callable[[], None] | None, key: str) -> None:
    ev = event_of(st.session_state.get(key))
    if ev is not None and ev.get("kind") == "resend":  # the canvas lacks frames of the live run: the fragment's
        st.session_state.pop(SENT_KEY, None)           # own rerun sends them all
        return
    if on_event is not None:
        on_event()
    st.session_state[_GESTURE_KEY] = True


def mount_canvas(make_data: Callable[[LiveRun | None], dict], *, key: str = "canvas",
                 on_event: Callable[[], None] | None = None) -> None:
    """Mount the canvas component in a fragment; ``make_data(run)`` builds its data (``run``: the LiveRun
    streaming, or None). While a run streams the fragment reruns every TICK_S seconds."""
    run = current_run()
    live = run is not None and not run.done
    st.fragment(_canvas_fragment, run_every=TICK_S if live else None)(make_data, on_event, key)
