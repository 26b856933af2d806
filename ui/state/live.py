"""Live mode: one forget request computed in a background thread, its frames readable while it runs.

    run = LiveRun(ws, "jit", hp).start()     # the thread works on a copy of ``ws``; ``ws`` is untouched
    run.wait_for_step(1.0)                     # until the first real optimiser step is in (or the run ended)
    frames, steps = run.frames()              # the frames so far: real optimiser steps only, never interpolated
    run.outcome(ws)                            # once done: "applied" (the step joins ``ws`` in one step),
                                               # "diverged", "failed", "cancelled" or "stale"

Nothing here imports Streamlit: the page (app_pages/live.py) polls ``frames()`` from a fragment and calls
``outcome`` from its script thread; the worker thread only writes into this object's buffer, under a lock.

Frames: the grid before the run (step 0) and one after every optimiser step, as ``Workspace.forget`` encodes
them (``on_frame``). A long run keeps at most ``max_frames`` of them while it streams: every ``stride``-th
step plus the newest one, the stride doubling when the buffer is full, so the frames shown are always real
steps spread over the whole run. The finished step keeps its own frames (``Workspace.forget``: at most
MAX_FRAMES, evenly spaced, with the last).

Stale runs: a run belongs to the workspace and forget history it started from. If the page's workspace is
another object by the time it ends (new data, a loaded session), or its history changed (undo, reset, another
forget), ``outcome`` discards it and says "stale"; ``cancel`` stops a run at its next frame.
"""
from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import traceback

import numpy as np

from .workspace import MAX_FRAMES, Diverged, ForgetStep, Workspace

RUNNING, APPLIED, DIVERGED, FAILED, CANCELLED, STALE = "running", "applied", "diverged", "failed", "cancelled", "stale"
_IDS = itertools.count(1)


class Cancelled(Exception):
    """Raised inside the worker (from the frame callback) to stop a cancelled run."""


def _history_key(ws: Workspace) -> tuple:
    """Names a workspace's forget history: a run applies only to the history it started from."""
    return len(ws.steps), id(ws.steps[-1]) if ws.steps else None


class LiveRun:
    """``ws.forget(method, hp)`` on a copy of ``ws`` in a daemon thread, streaming its frames.

    ``status`` is RUNNING until the worker ends, then "done" (a ``ForgetStep`` in ``step``), DIVERGED
    (``error`` is the ``Diverged``, with the failed run's frames) , FAILED (``error`` and ``trace``) or
    CANCELLED. ``outcome(ws)`` turns a finished run into the page's state once and returns what happened.
    """

    def __init__(self, ws: Workspace, method: str, hp: dict, *, device="cpu", max_frames: int = MAX_FRAMES,
                 total_steps: int | None = None):
        self.id = next(_IDS)
        self.name = f"live:{self.id}:{id(ws)}"
        self.ws, self.method, self.hp, self.device = ws, method, dict(hp), device
        self.ids = ws.selectable(ws.selection)
        self.total_steps = total_steps
        self.max_frames = max(2, int(max_frames))
        self._start_key = _history_key(ws)
        self._lock = threading.Condition()
        self._kept: list[tuple[int, np.ndarray]] = []  # (step, shade) on the stride
        self._tail: tuple[int, np.ndarray] | None = None  # the newest frame when it is off the stride
        self._stride = 1
        self._loss: tuple[int, float] | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = RUNNING
        self.step: ForgetStep | None = None
        self.error: BaseException | None = None
        self.trace = ""
        self.applied: str | None = None  # what ``outcome`` decided, once it has
        self.started = time.perf_counter()
        self.seconds: float | None = None

    # --- the worker ---------------------------------------------------------------------------------
    def start(self) -> "LiveRun":
        self._thread = threading.Thread(target=self._work, name=f"forget-live-{self.id}", daemon=True)
        self._thread.start()
        return self

    def _work(self) -> None:
        # A copy that shares the (read-only) data and models but has its own history and selection: the
        # page may undo, select or reset meanwhile, and Workspace.forget appends to its own ``steps``.
        work = dataclasses.replace(self.ws, steps=list(self.ws.steps), selection=set(int(i) for i in self.ids))
        status, step, error, trace = FAILED, None, None, ""
        try:
            step = work.forget(self.method, self.hp, device=self.device, on_step=self._on_step,
                               on_frame=self._on_frame, total_steps=self.total_steps)
            status = "done"
        except Cancelled:
            status = CANCELLED
        except Diverged as err:
            status, error = DIVERGED, err
        except Exception as err:  # anything else reaches the page as a message, with the traceback kept
            status, error, trace = FAILED, err, traceback.format_exc()
        with self._lock:
            self.status, self.step, self.error, self.trace = status, step, error, trace
            self.seconds = time.perf_counter() - self.started
            self._lock.notify_all()

    def _on_step(self, step: int, loss: float) -> None:
        with self._lock:
            self._loss = (int(step), float(loss))

    def _on_frame(self, step: int, shade: np.ndarray) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        shade = np.array(shade, np.uint8, copy=True)
        with self._lock:
            newest = (int(step), shade)
            self._tail = None if step % self._stride == 0 else newest
            if self._tail is None:
                self._kept.append(newest)
                while len(self._kept) >= self.max_frames:  # leave room for the tail
                    self._stride *= 2
                    self._kept = [f for f in self._kept if f[0] % self._stride == 0]
                if self._kept[-1][0] != newest[0]:  # the newest frame fell off the new stride: it stays, as the tail
                    self._tail = newest
            self._lock.notify_all()

    # --- the page's side ----------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.status != RUNNING

    def cancel(self) -> None:
        """Stop the worker at its next frame (its result, if it ends anyway, is not applied)."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    def frames(self) -> tuple[list[np.ndarray], list[int]]:
        """(shade grids, their optimiser steps) recorded so far, oldest first; step 0 is the grid before."""
        with self._lock:
            kept = self._kept + ([self._tail] if self._tail is not None else [])
            return [f for _, f in kept], [s for s, _ in kept]

    def last_step(self) -> int:
        """The newest optimiser step with a frame (0: none yet)."""
        with self._lock:
            if self._tail is not None:
                return self._tail[0]
            return self._kept[-1][0] if self._kept else 0

    def loss(self) -> tuple[int, float] | None:
        """(step, loss) of the newest optimiser step, if any."""
        with self._lock:
            return self._loss

    def wait_for_step(self, timeout: float, step: int = 1) -> bool:
        """Wait until the run has a frame of optimiser step >= ``step`` or has ended; True if either."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.status == RUNNING and not self._has_step(step):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def _has_step(self, step: int) -> bool:
        last = self._tail[0] if self._tail is not None else (self._kept[-1][0] if self._kept else 0)
        return last >= step

    def belongs_to(self, ws: Workspace) -> bool:
        """Whether this run can still apply to ``ws``: the same workspace with the same forget history."""
        return ws is self.ws and _history_key(ws) == self._start_key

    def outcome(self, ws: Workspace) -> str | None:
        """Once the worker has ended: apply a successful run to ``ws`` (its step appended and its points
        taken out of the selection, in one step) and say what happened: APPLIED, DIVERGED, FAILED,
        CANCELLED or STALE (the page's workspace or history changed meanwhile: nothing applied). None while
        it runs. Idempotent: a second call returns the first answer and changes nothing."""
        if not self.done:
            return None
        if self.applied is not None:
            return self.applied
        if self.status == CANCELLED:
            self.applied = CANCELLED
        elif not self.belongs_to(ws):
            self.applied = STALE
        elif self.status == "done":
            ws.steps.append(self.step)
            ws.selection.difference_update(int(i) for i in self.step.ids)
            self.applied = APPLIED
        else:
            self.applied = self.status
        return self.applied

    def message(self) -> str:
        """A sentence for the page about a run that did not apply."""
        if self.status == FAILED:
            err = self.error
            return f"The {self.method} run stopped with an error: {type(err).__name__}: {err}"
        if self.status == DIVERGED:
            return f"The {self.method} run diverged: {self.error}"
        if self.applied == STALE:
            return (f"The {self.method} run finished after the data or the forget history had changed, so it was "
                    f"not applied.")
        if self.status == CANCELLED:
            return f"The {self.method} run was cancelled."
        return ""
