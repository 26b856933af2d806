"""Playground: train a small classifier on 2-D data, click points to forget, watch the boundary move.

The page is thin: state lives in a ``ui.state.workspace.Workspace`` in session state, configuration in
``ui.state.config`` (mirrored in the URL), figures in ``ui.views.canvas`` / ``ui.views.curves``.
"""
import hashlib
import os
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st
import torch

import toy_data
from app_pages.canvas_component import canvas as canvas_component
from app_pages.canvas_component import event_of
from app_pages import live  # live mode: the forget streamed into the canvas (issue 12)
from app_pages.common import hyper_input, train_with_progress
from ui.state import config, report, session, share
from ui.state.config import HIDEABLE, LIMITS, Config
from ui.state.events import apply_canvas_event, apply_event
from ui.state.grids import AGREE, Layers, band_layers, disagreement_shares, empty_layers
from ui.state.presets import PRESETS
from ui.state.workspace import (MAX_RETRAINS, RETRAINS, Diverged, Workspace, change_loses, edit_points,
                                new_workspace, workspace_from_points, workspace_from_split)
from ui.views import canvas
from ui.views.curves import loss_curve
from ui.views.canvas_payload import canvas_html, payload_for
from ui.views.html import animation_html
from ui.views.png import chromium_path, figure_png
from unlearn_core import METHODS
from unlearn_core.metrics import accuracy

torch.set_num_threads(1)  # tiny models: one thread is fastest and fair to other sessions
ss = st.session_state
#: The canvas: the components-v2 canvas (ui/views/canvas_js) by default; PLAYGROUND_CANVAS=plotly brings back
#: the Plotly figure (every click a rerun, heat-map frames redrawn by Plotly), e.g. for benchmarks/browser_canvas.py.
PLOTLY_CANVAS = os.environ.get("PLAYGROUND_CANVAS", "").strip().lower() == "plotly"

SOURCES = ["Generate", "Upload CSV", "Draw", "Session file"]
#: The Draw / Select toggle of a drawing: what a click on the canvas does.
DRAW, SELECT = "Draw", "Select to forget"
#: The widgets whose change rebuilds the data or retrains the model (and so wipes a forget history).
REBUILD_KEYS = ("w_dataset", "w_n", "w_noise", "w_classes", "w_seed", "w_test", "w_width", "w_depth", "w_activation",
                "w_fit_epochs", "w_fit_lr")

# --- configuration: from the URL on a session's first run, then from the widgets ---------------------
if "cfg" not in ss:
    ss.cfg, ss.url_notes = config.from_query(st.query_params.to_dict())
    try:  # the points and the forget history a link carries: checked whole before anything is applied
        link_data, link_hist = share.read_link(st.query_params.to_dict())
    except ValueError as err:
        ss.cfg, ss.url_notes = Config(), [f"This link is damaged, so none of it was applied ({err}). The page "
                                          f"starts from the defaults."]
    else:
        if link_data is not None or link_hist:
            ss.link_pending = (link_data, link_hist)
        if link_data is not None:
            ss.source_now = "Upload CSV" if link_data.kind == "csv" else "Draw"


def init_widgets(cfg: Config, groups=("data", "model", "method", "hyper", "device")) -> None:
    """Put ``cfg`` into the widgets' session-state keys (first run, presets, loaded sessions): the controls of
    ``groups`` only (a preset leaves the groups a classroom link hides alone)."""
    if "data" in groups:
        ss.w_dataset, ss.w_n, ss.w_seed, ss.w_test = cfg.dataset, cfg.n, cfg.seed, cfg.test
        ss.w_noise = cfg.resolved_noise()
        ss.w_classes = cfg.resolved_classes() or 2
    if "model" in groups:
        ss.w_width, ss.w_depth, ss.w_activation = cfg.width, cfg.depth, cfg.activation
        ss.w_fit_epochs, ss.w_fit_lr = cfg.fit_epochs, cfg.fit_lr
    if "method" in groups:
        ss.w_method = cfg.method
    if "device" in groups:
        ss.w_device = cfg.device
        ss.hide = cfg.hide
    if "hyper" in groups:
        for m in METHODS:
            for k, v in config.method_defaults(m).items():
                ss[f"hp_{m}_{k}"] = v
        for k, v in cfg.hp.items():
            ss[f"hp_{cfg.method}_{k}"] = v


if "w_dataset" not in ss:
    init_widgets(ss.cfg)
hide = ss.get("hide", frozenset())
ss.setdefault("source_now", "Generate")


# --- changes that would discard something: asked first ----------------------------------------------------
def ask(kind: str, lost: str, **what) -> None:
    """Hold a change that would discard ``lost`` until the user confirms it (``pending_box``)."""
    ss.pending = dict(kind=kind, lost=lost, **what)


def source_loses(to: str) -> str | None:
    """What switching the data source to ``to`` discards: a drawing starts from the current points (only the
    model and the history go); any other source replaces points the generator cannot make again."""
    ws_now = ss.get("workspace")
    if ws_now is None or to == ss.source_now:
        return None
    if to == "Draw":
        return None if ws_now.source == "drawn" else change_loses(ws_now, points=False)
    return change_loses(ws_now) if ws_now.source != "generated" else None


def on_source_change() -> None:
    to = ss.w_source
    lost = source_loses(to)
    if lost:
        ss.w_source = ss.source_now  # nothing changes until the user says so
        ask("source", lost, to=to)
    else:
        ss.source_now = to
        ss.pop("pending", None)


def preset_changes_source() -> bool:
    """Whether a preset switches the data source to Generate: only when neither the source nor the data
    controls are hidden (a preset never overrides a hidden control)."""
    return ss.source_now != "Generate" and "source" not in hide and "data" not in hide


def apply_preset(name: str, confirmed: bool = False) -> None:
    p = PRESETS[name]
    if not confirmed:  # a preset starts a new story: the data it replaces and any forget history go
        lost = source_loses("Generate") if preset_changes_source() else change_loses(ss.get("workspace"), points=False)
        if lost:
            ask("preset", lost, name=name)
            return
    proposed = Config(**{k: v for k, v in p.config.items() if k != "hp"}, hp=dict(p.config.get("hp", {})),
                      hide=hide)
    init_widgets(config.merge_visible(ss.cfg, proposed, hide),
                 groups=[g for g in ("data", "model", "method", "hyper") if g not in hide])
    if preset_changes_source():
        ss.w_source = ss.source_now = "Generate"
    ss.pending_preset = name
    ss.confirmed_rebuild = True  # the preset's button is the user's answer
    ss.pop("failed_run", None)
    ss.pop("pending", None)


def confirm_pending() -> None:
    """'Discard and ...': carry out the held change."""
    p = ss.pop("pending", None)
    if not p:
        return
    if p["kind"] == "source":
        ss.w_source = ss.source_now = p["to"]
        ss.confirmed_rebuild = True  # asked once: the new source's data is built without asking again
    elif p["kind"] == "preset":
        apply_preset(p["name"], confirmed=True)
    elif p["kind"] == "settings":
        ss.confirmed_rebuild = True
    elif p["kind"] == "draw":
        ss.workspace = edit_points(ss.workspace)  # the same points, untrained: drawing starts
        ss.w_click = DRAW


def keep_pending() -> None:
    """'Keep': drop the held change (a settings change: the widgets go back to what built the workspace)."""
    p = ss.pop("pending", None)
    if p and p["kind"] == "settings":
        for k, v in ss.get("built_widgets", {}).items():
            ss[k] = v


PENDING_VERB = {"source": "switch", "preset": "run the preset", "settings": "apply", "draw": "draw"}


def pending_box(where, kinds) -> None:
    """The held change, if it is one of ``kinds``: what it would discard, and the two answers."""
    p = ss.get("pending")
    if not p or p["kind"] not in kinds:
        return
    what = {"source": lambda: f"Switching the data source to **{p['to']}**",
            "preset": lambda: f"The preset **{PRESETS[p['name']].title}**",
            "settings": lambda: "This data or model setting",
            "draw": lambda: "Drawing (it changes the points, so the model must be trained again)"}[p["kind"]]()
    box = where.container(border=True)
    box.warning(f"{what} discards {p['lost']}. Save them first with **Session (JSON)** (under *Share and "
                f"export*) if you want them back later.", icon=":material/warning:")
    row = box.container(horizontal=True, wrap=True, gap="small")  # side by side where they fit (not the sidebar)
    row.button(f"Discard and {PENDING_VERB[p['kind']]}", key="pending_yes", on_click=confirm_pending,
               type="primary", width="content")
    row.button("Keep", key="pending_no", on_click=keep_pending, width="content",
               help="Cancel the change; everything stays as it is.")


st.title("Forget points, watch the boundary move")
# Everything that comes and goes above the canvas (notes, training progress, errors) goes into this one container,
# so that the canvas keeps its place in the page and the component is not remounted (zoom, tool, playback kept).
notices = st.container()
notices.empty()  # always one (invisible) element: an empty container is not drawn at all, and the page would jump
for note in ss.get("url_notes", []):
    notices.warning(note)
ss.url_notes = []


# --- sidebar -------------------------------------------------------------------------------------------
sources = SOURCES if "draw" not in hide else ["Generate"]
if ss.source_now not in sources:  # a link's own data stays, even where drawing and uploading are hidden
    sources = [ss.source_now]
with st.sidebar:
    if hide:
        st.caption("Classroom link: some controls are hidden.")
    if "source" not in hide and len(sources) > 1:
        ss.setdefault("w_source", ss.source_now)
        if ss.w_source != ss.source_now and not ss.get("pending"):
            ss.w_source = ss.source_now  # e.g. a preset switched back to Generate
        st.radio("Data", sources, key="w_source", horizontal=True, on_change=on_source_change,
                 help="Leaving a drawing or uploaded data (or a forget history) asks first.")
    source = ss.source_now
    pending_slot = st.container()  # filled once the page knows whether a change waits for an answer
    if "data" not in hide:
        if source == "Generate":
            st.selectbox("Dataset", list(toy_data.DATASETS), key="w_dataset",
                         help="; ".join(f"{d}: {toy_data.dataset_info(d).description}" for d in toy_data.DATASETS))
        info = toy_data.dataset_info(ss.w_dataset)
        if source == "Generate":
            lim = LIMITS
            st.slider(lim["n"].label, int(lim["n"].lo), int(lim["n"].hi), step=int(lim["n"].step), key="w_n",
                      help=lim["n"].help)
            ss.w_noise = min(float(ss.w_noise), float(info.max_noise))
            st.slider("Noise", 0.0, float(info.max_noise), step=0.01, key="w_noise", help=lim["noise"].help)
            if info.takes_classes:
                ss.w_classes = int(min(max(ss.w_classes, config.MIN_CLASSES), config.MAX_CLASSES))
                st.slider("Classes", config.MIN_CLASSES, config.MAX_CLASSES, key="w_classes", help=lim["classes"].help)
            st.number_input("Seed", 0, 9999, key="w_seed", help=lim["seed"].help)
        st.slider("Test share", 0.1, 0.5, step=0.05, key="w_test", help=LIMITS["test"].help)
    if "model" not in hide:
        with st.expander("Model", expanded=False):
            st.slider("Hidden layers", 1, 4, key="w_depth", help=LIMITS["depth"].help)
            st.select_slider("Neurons per layer", [4, 8, 16, 32, 64, 128, 256], key="w_width", help=LIMITS["width"].help)
            st.selectbox("Activation", config.ACTIVATIONS, key="w_activation")
            st.slider("Training epochs", 10, 1000, step=10, key="w_fit_epochs", help=LIMITS["fit_epochs"].help)
            st.select_slider("Training learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], key="w_fit_lr",
                             help=LIMITS["fit_lr"].help)
    st.header("Unlearning")
    if "method" not in hide:
        st.selectbox("Method", list(METHODS), key="w_method",
                     format_func=lambda m: f"{m} ({'zero-shot' if METHODS[m].zero_shot else 'uses retain set'})",
                     help="\n\n".join(f"**{m}**: {METHODS[m].summary}" for m in METHODS))
    method = ss.w_method
    for k, v in config.method_defaults(method).items():  # Streamlit drops the state of widgets not drawn in
        ss.setdefault(f"hp_{method}_{k}", v)  # the last run: back from another method, start from the defaults
    if "hyper" not in hide:
        for name, control in config.hyper_controls(method).items():
            hyper_input(st, control, f"hp_{method}_{name}")
        st.caption(METHODS[method].summary)
        if method == "jit":
            st.checkbox(f"Stretch a short run to {report.WATCHABLE_STEPS} steps", value=True, key="w_watchable",
                        help=f"A forget of a few points takes 1 or 2 optimiser steps with the defaults, too few to "
                             f"watch. This runs it with batch size 1 (the paper's Algorithm 1 steps per sample) and "
                             f"as many passes as give at least {report.WATCHABLE_STEPS} real steps, the step size "
                             f"divided so the path length stays the same. The values used are shown with the run.")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if ss.get("w_device") not in devices:
        ss.w_device = "cpu"
    st.radio("Device", devices, key="w_device", horizontal=True,
             help="GPU is offered when one is present." if len(devices) > 1 else "No GPU on this machine.")
    show_test = st.checkbox("Show test points (hollow)", value=True)

cfg = Config(dataset=ss.w_dataset, n=int(ss.w_n), noise=float(ss.w_noise),
             classes=int(ss.w_classes) if toy_data.dataset_info(ss.w_dataset).takes_classes else None,
             seed=int(ss.w_seed), test=float(ss.w_test), width=int(ss.w_width), depth=int(ss.w_depth),
             activation=ss.w_activation, fit_epochs=int(ss.w_fit_epochs), fit_lr=float(ss.w_fit_lr), method=method,
             hp={k: ss[f"hp_{method}_{k}"] for k in config.method_defaults(method)}, device=ss.w_device, hide=hide)
ss.cfg = cfg
query = config.to_query(cfg)
model_cfg = cfg.model_config()


# --- the workspace: data + model ------------------------------------------------------------------------
def load_session_file() -> None:
    """Restore a saved session (runs before the script, so the widgets can take its settings)."""
    up = ss.get("w_session_file")
    if up is None:
        return
    data = up.getvalue()
    try:
        loaded, extra = session.load_session(data)
    except ValueError as err:  # SessionFileError: what, where (a JSON path), what to do
        ss.session_error = f"{up.name}: {err} The current state is kept."
        return
    ss.workspace, ss.ws_key = loaded, ("session", hashlib.sha1(data).hexdigest())
    saved = (extra or {}).get("config")
    if isinstance(saved, dict):
        init_widgets(config.from_query(saved)[0])
    ss.pop("failed_run", None)
    ss.session_loaded = up.name


ws: Workspace | None = ss.get("workspace")
go_ahead = ss.pop("confirmed_rebuild", False)  # the user confirmed (or a preset asked for) a rebuild this run
if (ss.get("pending") or {}).get("kind") == "settings":
    ss.pop("pending")  # asked again below if the widgets still say so


def may_rebuild() -> bool:
    """Whether the data or the model may be rebuilt now: nothing would be lost, or the user said so; otherwise
    the change waits for an answer (``pending_box``) and the current workspace stays."""
    lost = change_loses(ws, points=False)
    if go_ahead or not lost:
        return True
    ask("settings", lost)
    return False


if ss.get("session_loaded"):
    st.toast(f"Session restored from {ss.pop('session_loaded')}")
link_data, link_hist = ss.pop("link_pending", (None, None))
if link_data is not None:  # a link's own points: build them exactly as shared, train, then replay its history
    fresh = workspace_from_split(link_data.X, link_data.y, link_data.train_idx, link_data.test_idx,
                                 n_classes=link_data.n_classes, source=link_data.kind, name="shared",
                                 bounds=link_data.bounds, model_cfg=model_cfg)
    ss.workspace, ws = fresh, fresh
    ss.ws_key = (link_data.kind, "link")
    try:
        with notices:
            train_with_progress(fresh)
    except ValueError as err:
        notices.warning(f"The link's {len(fresh.y)} points cannot be trained on yet ({err}).")
        link_hist = None
    if link_data.quantised:
        notices.info("The link carried the points rounded to 1/65535 of their range (the exact ones did not fit), so "
                     "the model can differ slightly from the one that was shared.")
replay_now = link_hist
if source == "Generate":
    key = ("gen", cfg.data_key(), cfg.model_key())
    if ss.get("ws_key") != key and may_rebuild():
        try:
            fresh = new_workspace(cfg.dataset, n_samples=cfg.n, noise=cfg.noise, seed=cfg.seed, classes=cfg.classes,
                                  test_ratio=cfg.test, model_cfg=model_cfg)
            with notices:
                train_with_progress(fresh)
            ss.workspace, ss.ws_key, ws = fresh, key, fresh
            ss.pop("failed_run", None)
        except ValueError as err:
            notices.error(f"Could not build this dataset: {err}")
elif source == "Upload CSV":
    with st.sidebar:
        up = st.file_uploader("CSV with columns x, y, label", type=["csv", "txt"],
                              help="One point per row; 2 to 4 classes. Labels may be numbers or names.")
    if up is not None:
        data = up.getvalue()
        key = ("csv", hashlib.sha1(data).hexdigest(), cfg.test, cfg.model_key())
        if ss.get("ws_key") != key and (ws is None or ws.source != "csv" or may_rebuild()):
            try:
                X, y, names = toy_data.load_csv_with_labels(data)
                fresh = workspace_from_points(X, y, source="csv", name=up.name, test_ratio=cfg.test, seed=cfg.seed,
                                              model_cfg=model_cfg)
                with notices:
                    train_with_progress(fresh)
                ss.workspace, ss.ws_key, ws = fresh, key, fresh
                st.toast(f"Loaded {len(y)} points in {len(names)} classes from {up.name}")
            except ValueError as err:  # CSVFormatError included: the message says row and column
                notices.error(f"{up.name}: {err} The previous data is kept.")
    elif ws is None or ws.source != "csv":
        notices.info("Upload a CSV file with columns `x, y, label` in the sidebar. The current data stays until then.")
elif source == "Session file":
    with st.sidebar:
        st.file_uploader("Session JSON saved from this page", type=["json"], key="w_session_file",
                         on_change=load_session_file,
                         help="Restores the data, models, forget history, selection and settings.")
    if ss.get("session_error"):
        notices.error(ss.pop("session_error"))
    if ss.get("ws_key", ("",))[0] != "session":
        notices.info("Load a session file (saved below with **Session (JSON)**) in the sidebar. The current state stays "
                "until then.")
elif source == "Draw":
    if ws is not None and ws.source != "drawn":
        ss.workspace = ws = edit_points(ws)  # start from the current points, untrained
        ss.ws_key = ("drawn",)

if ws is None:
    st.stop()
if ws.model_cfg != model_cfg and source != "Session file":
    if not ws.trained:  # a drawing: the recipe it will be trained with
        ws.model_cfg = model_cfg
    elif may_rebuild():
        ws = Workspace(problem=ws.problem, source=ws.source, model_cfg=model_cfg, grid=ws.grid)
        with notices:
            train_with_progress(ws)
        ss.workspace = ws
if replay_now and ws.trained:  # the link's forget requests, replayed whole or not at all
    with notices:
        bar = st.progress(0.0, text="Replaying the link's forget requests...")
        try:
            share.replay(ws, replay_now, device="cpu", on_step=lambda i, n: bar.progress(
                i / n, text=f"Replaying the link's forget request {i + 1} of {n}..."))
            ss.link_replayed = (id(ws), len(replay_now))  # said in the History: a notice would not outlive a rerun
        except ValueError as err:
            notices.warning(f"The link's forget history was not applied: {err}.")
        bar.empty()
    ss.pop("failed_run", None)
if link_data is not None and ws.trained:
    ss.w_click = SELECT
pending = ss.get("pending")
if not (pending and pending["kind"] == "settings"):
    ss.built_widgets = {k: ss[k] for k in REBUILD_KEYS if k in ss}  # what 'Keep' goes back to
pending_box(pending_slot, ("source", "preset", "settings"))

# --- a preset: pick its points and forget them right away -----------------------------------------------
run_now = False
if ss.get("pending_preset") and ws.trained:
    preset = PRESETS[ss.pop("pending_preset")]
    ws.reset()
    ws.select(preset.select(ws))
    notices.success(f"**{preset.title}.** {preset.story}")
    run_now = True

# --- the main area -------------------------------------------------------------------------------------
draw_mode = source == "Draw"
left, right = st.columns([3, 2], gap="medium")


def points_version(w: Workspace) -> str:
    """Names the points' current version: a Draw-mode removal applies only to the version it was clicked on."""
    return hashlib.sha1(w.X.tobytes() + w.y.tobytes()).hexdigest()[:12]


def on_canvas_event() -> None:
    """One gesture on the canvas component: apply it to the workspace before this rerun's script."""
    now = ss.workspace
    new, ss.canvas_ack = apply_canvas_event(now, event_of(ss.get("canvas")), ack=int(ss.get("canvas_ack", 0)),
                                            version=points_version(now))
    if new is not now:
        ss.workspace = new


def on_canvas_select() -> None:
    mode = "forget"
    if draw_mode and ss.get("w_draw_action", "Add points") != SELECT:
        mode = "add" if ss.get("w_draw_action", "Add points") == "Add points" else "remove"
    ss.workspace = apply_event(ss.workspace, ss.get("canvas"), mode=mode, draw_class=ss.get("w_draw_class", 0))


def request_forget() -> None:
    ss.forget_requested = True


def on_click_mode() -> None:
    """The Draw / Select toggle: drawing on a model with a forget history asks first (drawing changes the
    points, so the model and its history go)."""
    w = ss.workspace
    if ss.w_click == DRAW and w.trained and w.steps:
        ss.w_click = SELECT
        ask("draw", change_loses(w, points=False, model=True))


def effective_hp(n_points: int, *, stretch: bool = True) -> tuple[dict, dict | None]:
    """(hyperparameters to run, the stretch applied or None): the widgets' values, for JiT stretched to a
    watchable number of steps (``report.watchable_hp``) unless switched off."""
    hp = cfg.hyperparameters()
    change = report.watchable_hp(n_points, hp) if method == "jit" and stretch and ss.get("w_watchable", True) else None
    return ({**hp, **change} if change else hp), change


def forget_running() -> bool:
    """Whether a forget request of this workspace is still running in live mode."""
    running = live.current_run() if not PLOTLY_CANVAS and live.ENABLED else None
    return running is not None and not running.done and running.belongs_to(ws)


def run_forget(hp: dict) -> None:
    """Forget the selection. The canvas component: in a background thread whose frames stream into the canvas
    (live mode, ``app_pages.live``; the page applies the result when it ends). The Plotly canvas: here, with a
    progress bar. Either way a diverged run is kept aside to show, not applied."""
    total = report.steps_for(len(ws.selection), hp["batch_size"], hp["epochs"]) if method == "jit" else None
    if not PLOTLY_CANVAS and live.ENABLED:
        if forget_running():
            st.info("The last forget request is still running: its result comes first.")
            return
        error, _ = ws.check_forget(ws.selection)
        if error:
            st.error(error)
            return
        ss.pop("failed_run", None)
        live.start(live.LiveRun(ws, method, hp, device=cfg.device, total_steps=total))
        return
    bar = st.progress(0.0, text="Unlearning...")

    def on_step(step, loss):
        if total:
            bar.progress(min(1.0, step / total), text=f"step {step} of {total}, loss {loss:.3g}")

    try:
        ws.forget(method, hp, device=cfg.device, on_step=on_step, total_steps=total)
        ss.pop("failed_run", None)
    except Diverged as err:
        ss.failed_run = dict(message=str(err), frames=err.frames, frame_steps=err.frame_steps,
                             history=err.history, method=method, hp=hp)
    except ValueError as err:
        st.error(str(err))
    bar.empty()


with right:
    # "What to look for" and the presets sit beside the canvas, not above it (the presets folded), so that on a
    # 1280x720 projector the whole canvas, its player and the Forget button are on screen; the presets are as
    # wide as their labels, wrapping: none is cut off.
    st.info("**What to look for.** Select training points, press **Forget**, and judge how close the solid "
            "boundary comes to the dashed one: where models retrained without those points put it. Legend under "
            "the canvas.", icon=":material/visibility:")
    if "presets" not in hide:
        preset_row = st.expander("Presets: the paper's story in one click", expanded=False).container(
            horizontal=True, wrap=True, gap="small")
        for name, p in PRESETS.items():
            preset_row.button(p.title, key=f"preset_{name}", on_click=apply_preset, args=(name,), width="content",
                              help=p.story)
    if ws.trained and (ss.pop("forget_requested", False) or run_now):
        run_forget(effective_hp(len(ws.selection), stretch=not run_now)[0])  # a preset runs its values as they are
    # Live mode: a forget that ended is applied here, before anything below reads the workspace (the selection
    # count, the Forget button, the canvas), or shown aside when it diverged; one still running streams into the
    # canvas (app_pages/live.py), and the band waits for it.
    streaming, _ = (None, None) if PLOTLY_CANVAS else live.settle_run(ws)
    if draw_mode:
        st.subheader("Your own data")
        if ss.pop("after_train", False):
            ss.w_click = SELECT  # trained: clicks select, as on generated data
        if not ws.trained or ss.get("w_click") not in (DRAW, SELECT):
            ss.w_click = DRAW
        st.radio("A click on the canvas", [DRAW, SELECT], key="w_click", horizontal=True, on_change=on_click_mode,
                 disabled=not ws.trained,
                 help="Draw adds or removes points: that changes the data, so the model must be trained again (a "
                      "forget history is discarded, after asking). Select picks training points to forget, exactly "
                      "as on generated data.")
        pending_box(st, ("draw",))
        drawing = ss.w_click == DRAW
        if drawing:
            ss.setdefault("w_draw_edit", "Add points")
            st.radio("Draw", ["Add points", "Remove points"], key="w_draw_edit", horizontal=True,
                     label_visibility="collapsed")
            st.radio("Class of new points", list(range(config.MAX_CLASSES)), key="w_draw_class", horizontal=True,
                     format_func=lambda c: f"class {c}")
            c1, c2 = st.columns(2)
            if c1.button("Clear all points"):
                ss.workspace = ws = edit_points(ws, remove=range(len(ws.y)))
            if not ws.trained and c2.button("Train", type="primary",
                                            disabled=len(np.unique(ws.y[ws.train_ids])) < 2):
                try:
                    train_with_progress(ws)
                    ss.after_train = True
                    st.rerun()  # the page above the button (the toggle, the canvas) now shows a trained model
                except ValueError as err:
                    st.error(str(err))
            if ws.trained:
                st.caption("The model is trained on these points: the first point you add or remove discards it "
                           "(press **Train** again after).")
        # What a canvas click does (read by the canvas' data): add / remove points, or select them.
        ss.w_draw_action = ss.w_draw_edit if drawing else SELECT
        st.caption(f"{len(ws.train_ids)} training points, {len(ws.test_ids)} test points; drawn points join the "
                   f"training set. Trained, a drawing is compared, measured, undone and shared like generated "
                   f"data; leaving it for another data source asks first.")
        if not ws.trained:
            st.info("Press **Train** when your data is ready; then select points to forget.")

    if ws.trained:
        st.markdown(f"### {len(ws.selection)} point{'s' if len(ws.selection) != 1 else ''} selected")
        # Keyed and stateful, so it stays open while its buttons rerun the page (it used to fold after each).
        with st.expander("Quick selectors", expanded=False, key="quick_open",
                         on_change=lambda: None):
            classes = sorted(np.unique(ws.y[ws.train_ids]).tolist())
            # Callbacks run before the next script run, so the count above is already up to date.
            qc1, qc2 = st.columns(2, vertical_alignment="bottom")  # halves: the labels fit at 1280 px
            qc1.selectbox("Class", classes, format_func=lambda c: f"class {c}", key="q_class")
            qc2.button("Select class", width="stretch", on_click=lambda: ss.workspace.select_class(ss.q_class))
            qc1, qc2 = st.columns(2, vertical_alignment="bottom")  # halves: the labels fit at 1280 px
            qc1.number_input("k random training points", 1, max(1, len(ws.train_ids)), min(10, len(ws.train_ids)),
                             key="q_k")

            def pick_random():
                ss.q_rng = int(ss.get("q_rng", 0)) + 1  # a new draw each press
                ss.workspace.select_random(int(ss.q_k), seed=ss.q_rng)

            qc2.button("Select k random", width="stretch", on_click=pick_random)
            b = ws.bounds
            st.slider("Region x", float(b[0]), float(b[1]), (float(b[0]), float((b[0] + b[1]) / 2)), key="q_x")
            st.slider("Region y", float(b[2]), float(b[3]), (float(b[2]), float(b[3])), key="q_y")
            st.button("Select region", width="stretch",
                      on_click=lambda: ss.workspace.select_region((*ss.q_x, *ss.q_y)))
        st.button("Clear selection", disabled=not ws.selection, on_click=lambda: ss.workspace.clear_selection())
        error, warnings = ws.check_forget(ws.selection)
        error = error or report.whole_class_error(ws, ws.selection, method)
        if error and ws.selection:
            st.caption(f"**Forget is off:** {error}")
        for w in warnings:
            st.warning(w)
        hp, stretch = effective_hp(len(ws.selection))
        if stretch and ws.selection:
            st.caption(f"Forget runs {report.steps_for(len(ws.selection), 1, stretch['epochs'])} optimiser steps: batch "
                       f"size 1, {stretch['epochs']} pass(es), step size {stretch['lr']:.3g} (the widgets say batch "
                       f"{cfg.hyperparameters()['batch_size']}, {cfg.hyperparameters()['epochs']} pass(es), "
                       f"{cfg.hyperparameters()['lr']:g}: too few steps to watch; see *Stretch a short run*).")
        hint = report.frames_hint(len(ws.selection), hp) if method == "jit" and ws.selection and not stretch else None
        if hint:
            st.caption(f"This run has {report.steps_for(len(ws.selection), hp['batch_size'], hp['epochs'])} optimiser "
                       f"steps, so the animation has few frames.")

            def smaller_batches(h=hint):
                ss.hp_jit_batch_size, ss.hp_jit_lr, ss.hp_jit_normalize_step = h["batch_size"], h["lr"], "probe"

            st.button(f"Use batch size {hint['batch_size']} ({hint['steps']} steps, step size {hint['lr']:g})",
                      on_click=smaller_batches,
                      help="Smaller batches give more optimiser steps to watch. The step size shrinks in proportion "
                           "so the total distance travelled stays about the same, and the step is scaled by a probe "
                           "over all forget points (one small point cannot blow it up).")
        # A forget still streaming into the canvas: Forget waits for it (the page reruns when it ends)
        forget_busy = streaming is not None
        st.button(f"Forget with {method}", type="primary", disabled=error is not None or forget_busy,
                  on_click=request_forget, width="stretch", key="forget_button",  # keyed: one button whatever its help
                  help=error or ("A forget request is running; Forget comes back when it ends." if forget_busy
                                 else f"Apply {method} to the {len(ws.selection)} selected points."))
        if forget_busy:
            st.caption("**Forgetting...** the canvas shows each optimiser step as it is computed; Forget comes back "
                       "when the run ends.")
        if error and not ws.selection:
            st.caption(error)
        loss_slot = st.empty()

# --- the canvas ----------------------------------------------------------------------------------------
title = "Drawing" if draw_mode and not ws.trained else (f"After {len(ws.steps)} forget request{'s' * (len(ws.steps) > 1)}"
                                     if ws.steps else "Original model")


def canvas_spec(band):
    """The Plotly canvas (PLAYGROUND_CANVAS=plotly); after a forget request, its frames held against the
    retrain band (None: no ghost yet)."""
    spec, k = ws.gridspec, ws.n_classes
    if not ws.trained:
        layers, frames, steps = empty_layers(), None, None
    elif ws.steps:
        last = ws.steps[-1]
        frames = [band_layers(s, c, band) for s, c in last.frames]
        layers, steps = frames[-1], last.frame_steps
    else:
        layers, frames, steps = ws.layers(ws.original), None, None
    return canvas.canvas_figure(spec, ws.X, ws.y, n_classes=k, layers=layers, train_ids=ws.train_ids,
                                test_ids=ws.test_ids, forgotten=ws.forgotten, selection=ws.selection,
                                frames=frames, frame_steps=steps, draw_grid=draw_mode, show_test=show_test,
                                title=title)


def canvas_data(band, streaming=None) -> dict:
    """The canvas component's data: the last forget request's frames (or the model now), the retrain band's
    majority and agreement (None: no ghost yet), the points and the selection. ``streaming``: a forget still
    running (``ui.state.live.LiveRun``): its frames so far, live, without a ghost (its band comes after it)."""
    steps, run, shown = None, "", title
    if streaming is not None:
        frames, steps = streaming.frames()
        run, band = streaming.name, None
        at, total, loss = streaming.last_step(), streaming.total_steps, streaming.loss()
        shown = (f"Unlearning with {streaming.method}: optimiser step {at}" + (f" of {total}" if total else "") +
                 (f", loss {loss[1]:.3g}" if loss else ""))
    elif not ws.trained:
        frames = []
    elif ws.steps:
        last = ws.steps[-1]
        frames, steps = [s for s, _ in last.frames], last.frame_steps
        run = live.run_name(last, f"{id(ws)}:{len(ws.steps)}:{id(last)}")  # a streamed run keeps its name
    else:
        frames = [ws.layers(ws.original).shade]
    ghost = Layers(None, None, band.majority(), band.agreed(AGREE)) if band is not None else None
    mode = "draw" if draw_mode and ss.get("w_draw_action") != SELECT else "select"
    # the Quick selectors' region, previewed on the canvas while their panel is open
    region = (*ss.q_x, *ss.q_y) if ss.get("quick_open") and "q_x" in ss and "q_y" in ss and ws.trained else None
    return payload_for(ws, frames=frames, frame_steps=steps, ghost=ghost, show_test=show_test, title=shown,
                       region=region,
                       run=run, autoplay=True, mode=mode, live=streaming is not None,
                       draw_action="remove" if ss.get("w_draw_action") == "Remove points" else "add",
                       draw_class=int(ss.get("w_draw_class", 0)), interactive=ws.trained or draw_mode,
                       ack=int(ss.get("canvas_ack", 0)), version=points_version(ws))


n_retrains = int(ss.get("w_retrains", RETRAINS))
#: The hyperparameters named with a run (all of a method's are in the history and the session file).
HP_SHOWN = {"jit": ("batch_size", "epochs", "lr", "sigma", "n_samples", "normalize_step", "gradient")}


def hp_text(method_name: str, used: dict) -> str:
    """'batch_size 1, epochs 4, lr 0.00833, ...': the hyperparameters a run used (JiT: the ones that matter)."""
    keys = HP_SHOWN.get(method_name) or sorted(k for k, v in used.items() if isinstance(v, (int, float, str)))
    return ", ".join(f"`{k}` {used[k]:.4g}" if isinstance(used[k], float) else f"`{k}` {used[k]}" for k in keys
                     if k in used)
chart_kw = dict(theme=None, key="canvas", on_select=on_canvas_select, selection_mode=("points", "box", "lasso"),
                config={"displaylogo": False})
band = None
main_fig = main_data = None
with left:
    # A container, not st.empty(): an empty placeholder is re-sent first on every rerun, which would unmount the
    # canvas component and lose its zoom, tool and playback.
    slot = st.empty() if PLOTLY_CANVAS else st.container()
    if live.note():
        kind, text = live.note()
        (notices.error if kind == "error" else notices.warning)(text)
    if ws.steps and not ws.has_retrain_band(n_retrains) and streaming is None:
        if PLOTLY_CANVAS:
            slot.plotly_chart(canvas_spec(None), theme=None)  # the animation first; the K retrains follow
        else:
            with slot:
                live.mount_canvas(lambda run: canvas_data(None, run), on_event=on_canvas_event)
        with right:
            with st.spinner(f"Retraining {n_retrains} models from scratch (seeds 0..{n_retrains - 1}) for comparison..."):
                ws.retrain_band(n_retrains)
        if not PLOTLY_CANVAS:
            st.rerun()  # the same canvas (same key) takes the band; the animation plays on
        slot.empty()
    band = ws.retrain_band(n_retrains) if ws.steps and (streaming is None or ws.has_retrain_band(n_retrains)) \
        else None
    retrained = ws.retrained() if ws.steps else None
    if PLOTLY_CANVAS:
        main_fig = canvas_spec(band)
        slot.plotly_chart(main_fig, **chart_kw)
    else:
        main_data = canvas_data(band)
        with slot:  # a fragment: while a forget streams it re-sends the frames so far every live.TICK_S seconds
            live.mount_canvas(lambda run: main_data if run is None else canvas_data(band, run),
                              on_event=on_canvas_event)
        if live.ends_soon(streaming):
            st.rerun()  # a short run ended while its first frames went out: apply it now, not at the next tick
    drawing_clicks = draw_mode and ss.get("w_draw_action") != SELECT  # Draw mode's own clicks edit the points
    if drawing_clicks:
        st.caption("Click on the canvas to add a point of the chosen class (or remove the point under the cursor); "
                   "the point shows at once. Wheel zooms, drag pans.")
    if ws.trained and not drawing_clicks:
        how = ("Click a point to (de)select it; for many at once pick the box or lasso tool in the chart's toolbar "
               "(top right), then drag." if PLOTLY_CANVAS else
               "Click a point to (de)select it; for many at once pick **Box** or **Lasso** above the canvas (they stay "
               "on until you pick another tool) and drag. The wheel zooms and a drag with **Click** pans; **Reset "
               "zoom** or a double-click shows everything. Hover for a point's id, its α(x) (the paper's information "
               "measure: the share of its neighbours within r 0.3, standardised, of its own class; low α, much "
               "information) and the model's confidence. After Forget the animation plays each optimiser step as "
               "it is computed; **step ▶** goes one step at a time; the faint line is where the boundary started.")
        st.caption("Filled dots: training points; hollow: test points; ✕: forgotten; ring: selected. Background: "
                   "predicted class, paler where the model is less sure. Solid line: the model's boundary; dashed: "
                   f"the majority boundary of {n_retrains} models retrained from scratch with different seeds; "
                   f"grey cells: the model disagrees with retraining where at least {AGREE:.0%} of the retrains "
                   "agree; yellow cells: the retrains disagree among themselves, so retraining's own randomness "
                   "decides there and no method can be blamed. " + how)
        if band is not None:
            now = ws.layers(ws.model)
            shares = disagreement_shares(band_layers(now.shade, now.cls, band))
            single = disagreement_shares(ws.layers(ws.model, retrained))
            st.caption(f"Grey (counted against the method): **{100 * shares['disagrees']:.1f}%** of the canvas; "
                       f"yellow (retrains split): {100 * shares['retrains_split']:.1f}%. Against one retrain (seed 0) "
                       f"alone it would be {100 * single['disagrees']:.1f}% grey. {n_retrains} retrains took "
                       f"{band.seconds:.1f} s (batched).")
        st.number_input("Retrains in the oracle band", 1, MAX_RETRAINS, RETRAINS, key="w_retrains",
                        help="Models retrained from scratch with seeds 0..K-1, trained at once after the animation. "
                             "More give a steadier band and take longer.")

if ws.trained and ws.steps:
    last = ws.steps[-1]
    with right:
        if last.history:
            with loss_slot.container():
                st.plotly_chart(loss_curve(last.history, title=f"{last.method}: loss per optimiser step"), theme=None)
                st.caption(f"{len(last.history)} optimiser steps; used {hp_text(last.method, last.hyperparameters)}")

failed = ss.get("failed_run")
if failed and ws.trained:
    st.error(f"**The {failed['method']} run diverged and was undone**: {failed['message']}. The model is restored. "
             f"Try a smaller step size (learning rate), e.g. {failed['hp'].get('lr', 0.1) / 10:g}.")
    if failed["frames"]:
        with st.expander("What the failed run did (not applied)", expanded=True):
            if PLOTLY_CANVAS:
                fr = [Layers(s, c) for s, c in failed["frames"]]
                st.plotly_chart(canvas.canvas_figure(ws.gridspec, ws.X, ws.y, n_classes=ws.n_classes,
                                                     layers=fr[-1], train_ids=ws.train_ids, test_ids=ws.test_ids,
                                                     frames=fr, frame_steps=failed["frame_steps"], show_test=False,
                                                     height=380, title="The diverged run, step by step"), theme=None)
            else:
                canvas_component(payload_for(ws, frames=[s for s, _ in failed["frames"]],
                                             frame_steps=failed["frame_steps"], show_test=False, show_selection=False,
                                             title="The diverged run, step by step", run=f"failed:{id(failed)}",
                                             interactive=False, panel=True, height=420), key="canvas_failed")

# --- comparison, metrics, history -----------------------------------------------------------------------
if ws.trained:  # generated, drawn and uploaded data alike
    c_orig, c_ret = st.columns(2)

    def panel(where, model, title: str, key: str) -> None:
        """A static figure of ``model`` beside the canvas: the same canvas component (zoom, hover, PNG; no
        Plotly on the page, which a classroom's browsers would otherwise all load), or Plotly's with
        PLAYGROUND_CANVAS=plotly."""
        if PLOTLY_CANVAS:
            where.plotly_chart(canvas.figure_for(ws, ws.layers(model), title=title, height=380, show_selection=False,
                                                 show_test=show_test), theme=None)
            return
        with where:
            canvas_component(payload_for(ws, frames=[ws.layers(model).shade], show_test=show_test,
                                         show_selection=False, title=title, interactive=False, panel=True,
                                         height=380), key=key)

    panel(c_orig, ws.original, "Original model", "canvas_original")
    if ws.steps:
        panel(c_ret, retrained, "Retrained from scratch without the forgotten points", "canvas_retrained")
        if "metrics" not in hide:
            mkey = (id(ws), id(ws.model), id(retrained))  # selecting points must not re-evaluate
            if ss.get("metrics_key") != mkey:
                ss.last_metrics, ss.metrics_key = report.metrics_rows(ws, retrained), mkey
            rows = ss.last_metrics
            table = pd.DataFrame(rows).set_index("model")
            st.dataframe(table.map(lambda v: "" if v != v else f"{v:.3g}"), width="stretch")
            if band is not None:
                st.markdown(report.band_range_line(ws, band))
            st.caption("Forget set: every point forgotten so far; retain set: the rest of the training points. "
                       "'→ retrain' marks metrics whose target is the retrained model's value. MIA: the share of forget "
                       "points an entropy-threshold attack calls members (the paper's variant).")
    else:
        c_ret.info("Select points and press **Forget**: the retrained model appears here.")
    fit_hist = ws.fit_history
    if fit_hist:
        acc_tr = 100 * float(fit_hist[-1]["acc"])
        acc_te = 100 * accuracy(ws.original, *ws.test) if len(ws.test_ids) else float("nan")
        m1, m2, m3 = st.columns(3)
        m1.metric("Original: train accuracy (last epoch)", f"{acc_tr:.1f}%")
        m2.metric("Original: test accuracy", f"{acc_te:.1f}%")
        m3.metric("Forget requests", len(ws.steps))

if ws.trained and "history" not in hide:
    st.subheader("History")
    w_id, n_link = ss.get("link_replayed", (None, 0))
    if w_id == id(ws) and len(ws.steps) >= n_link:
        st.caption(f"The first {n_link} forget request{'s' * (n_link > 1)} came with the link and "
                   f"were replayed when it opened (same data, configuration and hyperparameters, so the same models).")
    for i, s in enumerate(ws.steps, 1):
        st.write(f"{i}. **{s.method}** forgot {len(s.ids)} point(s) in {len(s.history)} steps, {s.seconds:.3f} s")
        st.caption("Hyperparameters used: " + hp_text(s.method, s.hyperparameters))
    h1, h2, _ = st.columns([1, 1, 4])
    if h1.button("Undo", disabled=not ws.steps, help="Remove the last forget request; its points are selected again."):
        ws.undo()
        st.rerun()
    if h2.button("Reset", disabled=not ws.steps, help="Back to the original model; forget every request."):
        ws.reset()
        st.rerun()

# --- sharing: the link, a classroom link, exports ---------------------------------------------------------
# The URL is the state: the configuration, and the points (unless generated) and the forget history, so that
# opening it in a fresh browser rebuilds the data, trains the same model and replays the same requests.
link_extra, link_notes = share.link_params(ws)
if not (ss.get("pending") or {}).get("kind") == "settings":  # a change waiting for an answer is not the state yet
    url_now = {**query, **link_extra}
    if st.query_params.to_dict() != url_now:
        st.query_params.from_dict(url_now)
if ws.trained and "export" not in hide:
    st.subheader("Share and export")
    base = str(st.context.url or "").split("?")[0]
    carried = ["the configuration (dataset, seed, model, method and hyperparameters)"]
    if "data" in link_extra:
        carried.append(f"the {len(ws.y)} {'drawn' if ws.source != 'csv' else 'uploaded'} points")
    if "hist" in link_extra:
        carried.append(f"the {len(ws.steps)} forget request{'s' * (len(ws.steps) > 1)} (ids and the hyperparameters "
                       f"used), replayed when the link opens")
    st.caption("This link reproduces " + ", ".join(carried[:-1]) + (" and " if len(carried) > 1 else "")
               + carried[-1] + ":")
    st.code(f"{base}?{urlencode({**query, **link_extra})}", language=None)
    for note in link_notes:
        st.warning(note + " The **Session (JSON)** button below saves it; load it with the data source "
                   "**Session file**.", icon=":material/link_off:")
    with st.expander("Classroom link: hide controls"):
        groups = st.multiselect("Controls to hide", list(HIDEABLE), format_func=HIDEABLE.get, key="w_hide")
        st.code(f"{base}?{urlencode({**config.to_query(config.with_hidden(cfg, groups)), **link_extra})}",
                language=None)
        st.caption("Students who open this link see the page without those controls; the settings above still apply, "
                   "and presets never change a hidden control.")
    e1, e2, e3 = st.columns(3)
    if PLOTLY_CANVAS:
        e1.download_button("Animation (HTML)", data=lambda: animation_html(main_fig), file_name="unlearning.html",
                           mime="text/html", disabled=not ws.steps, width="stretch",
                           help="The canvas with its frames as a standalone web page (plotly.js included, works "
                                "offline).")
        try:
            chromium_path()
            png_help, png_ok = "The canvas as shown (last frame), rendered by Kaleido with the system Chromium.", True
        except RuntimeError as err:
            png_help, png_ok = str(err), False
        e2.download_button("Figure (PNG)", data=lambda: figure_png(main_fig, width=700, height=700),
                           file_name="unlearning.png", mime="image/png", disabled=not png_ok, help=png_help,
                           width="stretch")
    else:
        last = ws.steps[-1] if ws.steps else None
        caption = (f"{last.method} forgot {len(last.ids)} point(s) in {len(last.history)} optimiser steps; "
                   f"hyperparameters used: {hp_text(last.method, last.hyperparameters).replace('`', '')}" if last else "")
        e1.download_button("Animation (HTML)", data=lambda: canvas_html(main_data, caption=caption),
                           file_name="unlearning.html", mime="text/html", disabled=not ws.steps, width="stretch",
                           help="The canvas and its frames as one small standalone web page (the same player as "
                                "here; works offline).")
        e2.caption("PNG: the canvas's own **PNG** button (above the canvas) saves what it shows.")
    e3.download_button("Session (JSON)", file_name="unlearning-session.json", mime="application/json",
                       data=lambda: session.session_to_json(ws, metrics={"config": query,
                                                                        "table": ss.get("last_metrics", [])}),
                       help="Data, selection, models, forget history, hyperparameters and metrics. Load it back "
                            "with the data source **Session file**.", width="stretch")
