"""What the Playground's canvas component draws, as compact JSON, and the standalone HTML player.

    canvas_payload(...) -> dict        the component's ``data``: grids and points as base64 bytes
    payload_for(ws, ...) -> dict       the same for a ``Workspace`` (its points, split, forgotten, selection)
    only_new_frames(payload, known)    a live payload without the frames the canvas already holds
    decode(payload) -> dict            numpy arrays back from a payload (tests, tools)
    canvas_html(payload) -> bytes      one offline HTML file: the same player (canvas.js) and the frames
    CANVAS_JS, CANVAS_CSS              the component's assets (vanilla JS, no build step)

Live mode (``live=True``): the frames are those of a forget request still running (ui.state.live); the
player keeps playing into the frames that arrive with the next payload of the same ``run``. A live frame
never changes once recorded, so each payload after the first leaves out the frames the canvas already holds
(``only_new_frames``; app_pages/live.py decides which: those it held a few payloads ago): ``steps`` lists every
frame's step as always, ``new_steps`` the steps of the frames it carries; the canvas rebuilds the animation from
the frames it holds, and asks for everything again (a ``resend`` event) if one is missing. A 60-frame payload of
a 100x100 grid is about 800 kB; a tick of new frames tens of kB.
Each point carries the paper's information measure alpha(x) (``unlearn_core.scenarios.information``, radius
``ALPHA_RADIUS`` in standardised units, over the training points), shown by the hover readout.

Grids are the uint8 "shade" grids of ``ui.state.grids.shade_of`` (class and confidence in one byte; the
class is the band a value falls in), so one animation frame of a 100x100 grid is 10 kB before base64.
The retrain band travels once: its majority class grid and where its retrains agree.
"""
from __future__ import annotations

import base64
import functools
import html
import json
from pathlib import Path

import numpy as np

from ui.state.grids import GridSpec, Layers, class_bands
from ui.state.workspace import Workspace
from unlearn_core.scenarios import information

from .canvas import PALETTE

ASSETS = Path(__file__).with_name("canvas_js")
CANVAS_JS = (ASSETS / "canvas.js").read_text(encoding="utf-8")
CANVAS_CSS = (ASSETS / "canvas.css").read_text(encoding="utf-8")

#: Point roles in ``roles``.
TRAIN, TEST, FORGOTTEN, HIDDEN = 0, 1, 2, 3
#: alpha(x)'s neighbourhood radius (standardised units): ``scenarios.information``'s default, the one the
#: presets use and the Geometry page starts from.
ALPHA_RADIUS = 0.3
#: alpha is sent as one byte per point: round(ALPHA_SCALE * alpha), NO_ALPHA where it is undefined (no
#: neighbour within the radius) or not computed (test points).
ALPHA_SCALE, NO_ALPHA = 250, 255


def _b64(a: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def canvas_payload(spec: GridSpec, X: np.ndarray, y: np.ndarray, *, n_classes: int, frames: list[np.ndarray],
                   frame_steps: list[int] | None = None, ghost: Layers | None = None, train_ids=(), test_ids=(),
                   forgotten=(), selection=(), show_test: bool = True, title: str = "", run: str = "",
                   autoplay: bool = False, mode: str = "select", draw_action: str = "add", draw_class: int = 0,
                   interactive: bool = True, ack: int = 0, version: str = "", height: int = 560,
                   opacity: float = 0.55, live: bool = False, alpha: np.ndarray | None = None,
                   alpha_radius: float = ALPHA_RADIUS, panel: bool = False, region=None) -> dict:
    """The canvas component's data (JSON-ready).

    ``frames``: shade grids (uint8 [r, r], ``shade_of``), the first shown before playing, the last the
    model now; ``frame_steps`` the optimiser step of each (default 0..n-1). ``ghost``: ``Layers`` whose
    ``ghost_cls`` (and ``ghost_agreed``) hold the retrain band's majority (and where it agrees), or None.
    Point ids are global row indices of ``X``; ``roles`` marks each as train, test (hidden when
    ``show_test`` is off) or forgotten. ``run`` names the forget request the frames belong to: a new name
    makes the player start at frame 0 (and play, with ``autoplay``). ``ack`` is the last canvas gesture
    Python has applied, ``version`` names the points' version (Draw-mode edits apply to it only).
    ``live``: the run is still going (more frames of the same ``run`` will come). ``alpha``: alpha(x) per
    point (NaN: undefined or not computed), at ``alpha_radius``. ``panel``: a static figure beside the main
    canvas (e.g. the original model, the retrained one): zoom, hover and PNG only; no selection tools, no
    keyboard list, and its root is ``data-testid="jit-canvas-panel"`` so that it never counts as the canvas.
    ``region``: (x0, x1, y0, y1) in data units, a rectangle previewed on the canvas (the Quick selectors'), or None.
    """
    r = int(spec.resolution)
    X = np.asarray(X, np.float32).reshape(-1, 2)
    y = np.asarray(y).reshape(-1)
    n = len(y)
    if len(X) != n:
        raise ValueError(f"X has {len(X)} rows but y has {n} labels")
    k = max(int(n_classes), 2)
    roles = np.full(n, HIDDEN, np.uint8)
    roles[np.asarray(train_ids, np.int64)] = TRAIN
    if show_test:
        roles[np.asarray(test_ids, np.int64)] = TEST
    roles[np.asarray(list(forgotten), np.int64)] = FORGOTTEN
    frames = [np.asarray(f) for f in frames or []]
    for f in frames:
        if f.shape != (r, r):
            raise ValueError(f"a frame has shape {f.shape}, the grid is {r}x{r}")
    steps = [int(s) for s in (frame_steps if frame_steps is not None else range(len(frames)))]
    if len(steps) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(steps)} frame steps")
    has_ghost = ghost is not None and ghost.ghost_cls is not None and np.shape(ghost.ghost_cls) == (r, r)
    sel = sorted(int(i) for i in selection if 0 <= int(i) < n)
    if alpha is not None:
        alpha = np.asarray(alpha, np.float64).reshape(-1)
        if len(alpha) != n:
            raise ValueError(f"alpha has {len(alpha)} values for {n} points")
        alpha = np.where(np.isfinite(alpha), np.round(np.clip(alpha, 0, 1) * ALPHA_SCALE), NO_ALPHA)
    return {
        "v": 1, "title": str(title), "bounds": [float(b) for b in spec.bounds], "res": r, "k": k,
        "colors": [PALETTE[c % len(PALETTE)] for c in range(k)], "bands": [list(b) for b in class_bands(k)],
        "xy": _b64(X, "<f4"), "labels": _b64(y, np.uint8), "roles": _b64(roles, np.uint8), "selection": sel,
        "frames": [_b64(f, np.uint8) for f in frames], "steps": steps,
        "ghost": _b64(ghost.ghost_cls, np.uint8) if has_ghost else None,
        "agreed": _b64(ghost.ghost_agreed, np.uint8) if has_ghost and ghost.ghost_agreed is not None else None,
        "run": str(run), "autoplay": bool(autoplay), "mode": mode, "draw_action": draw_action,
        "draw_class": int(draw_class), "interactive": bool(interactive), "ack": int(ack), "version": str(version),
        "height": int(height), "opacity": float(opacity), "live": bool(live),
        "alpha": _b64(alpha, np.uint8) if alpha is not None else None, "alpha_radius": float(alpha_radius),
        "panel": bool(panel),
        "region": [float(v) for v in region] if region is not None else None,
    }


def payload_for(ws: Workspace, *, frames: list[np.ndarray], frame_steps: list[int] | None = None,
                ghost: Layers | None = None, show_selection: bool = True, **kw) -> dict:
    """``canvas_payload`` for a ``Workspace``: its grid, points, split, forgotten points, selection and alpha(x)
    of its training points."""
    kw.setdefault("alpha", alpha_of(ws))
    return canvas_payload(ws.gridspec, ws.X, ws.y, n_classes=ws.n_classes, frames=frames, frame_steps=frame_steps,
                          ghost=ghost, train_ids=ws.train_ids, test_ids=ws.test_ids, forgotten=ws.forgotten,
                          selection=ws.selection if show_selection else (), **kw)


def only_new_frames(payload: dict, known) -> dict:
    """``payload`` (of a live run) without the frames whose steps are in ``known``, the steps the canvas holds
    for the same run: ``frames`` keeps the others, ``new_steps`` names their steps, ``steps`` still lists
    every frame's step. Empty ``known``: the payload as it is (no ``new_steps``: the canvas takes it whole)."""
    known = {int(k) for k in known}
    if not known:
        return payload
    keep = [i for i, step in enumerate(payload["steps"]) if step not in known]
    return {**payload, "frames": [payload["frames"][i] for i in keep],
            "new_steps": [payload["steps"][i] for i in keep]}


def alpha_of(ws: Workspace, radius: float = ALPHA_RADIUS) -> np.ndarray:
    """alpha(x) of every point of ``ws`` (NaN for test points): ``scenarios.information`` over the training
    points, the forgotten ones included (the data the model was trained on)."""
    tr = np.asarray(ws.train_ids, np.int64)
    X, y = ws.X[tr], ws.y[tr]
    out = np.full(len(ws.y), np.nan)
    out[tr] = _cached_alpha(np.ascontiguousarray(X, np.float32).tobytes(), np.ascontiguousarray(y, np.int64).tobytes(),
                            float(radius))
    return out


@functools.lru_cache(maxsize=8)
def _cached_alpha(xb: bytes, yb: bytes, radius: float) -> np.ndarray:
    """``information`` on raw bytes (a cache key): reruns and live ticks do not recompute it."""
    a = information(np.frombuffer(xb, np.float32).reshape(-1, 2), np.frombuffer(yb, np.int64), radius)
    a.setflags(write=False)
    return a


def decode(payload: dict) -> dict:
    """The arrays of a payload: xy float32 [n, 2], labels and roles uint8 [n], frames uint8 [f, r, r],
    ghost / agreed uint8 [r, r] or None."""
    r = payload["res"]
    if "new_steps" in payload:
        raise ValueError("a payload of new frames only (only_new_frames) cannot be decoded alone")

    def raw(s, dtype):
        return np.frombuffer(base64.b64decode(s), dtype) if s else None

    frames = [raw(f, np.uint8).reshape(r, r) for f in payload["frames"]]
    return {
        "xy": raw(payload["xy"], "<f4").reshape(-1, 2), "labels": raw(payload["labels"], np.uint8),
        "roles": raw(payload["roles"], np.uint8),
        "frames": np.stack(frames) if frames else np.zeros((0, r, r), np.uint8),
        "ghost": None if payload["ghost"] is None else raw(payload["ghost"], np.uint8).reshape(r, r),
        "agreed": None if payload["agreed"] is None else raw(payload["agreed"], np.uint8).reshape(r, r),
        "alpha": None if not payload.get("alpha") else np.where(
            raw(payload["alpha"], np.uint8) == NO_ALPHA, np.nan, raw(payload["alpha"], np.uint8) / ALPHA_SCALE),
    }


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 16px; max-width: 760px; font-family: sans-serif; }} h1 {{ font-size: 18px; }}
p {{ font-size: 13px; color: #444; }}
{css}</style></head>
<body><h1>{title}</h1><p>{caption}</p><div id="canvas"></div>
<script id="canvas-data" type="application/json">{data}</script>
<script>
{js}
const DATA = JSON.parse(document.getElementById("canvas-data").textContent);
mountCanvas(document.getElementById("canvas"), DATA, {{}});
</script></body></html>
"""


def player_js() -> str:
    """canvas.js as a classic script: its module entry point (``export default``) becomes a plain function."""
    entry = "export default function (component)"
    if CANVAS_JS.count(entry) != 1:
        raise RuntimeError(f"canvas.js must have exactly one {entry!r}")
    return CANVAS_JS.replace(entry, "function streamlitEntry(component)")


def canvas_html(payload: dict, *, title: str = "JiT unlearning playground", caption: str = "") -> bytes:
    """A standalone HTML page of the canvas: the same player as the app (canvas.js) with ``payload``'s
    frames embedded; no network, no plotly.js. Interactions stay in the page (nothing is sent anywhere).
    UTF-8 bytes, for ``st.download_button(..., mime="text/html")``."""
    data = dict(payload, autoplay=False, interactive=True, mode="select", live=False, region=None)
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    page = _PAGE.format(title=html.escape(title), caption=html.escape(caption), css=CANVAS_CSS, js=player_js(),
                        data=text)
    return page.encode("utf-8")
