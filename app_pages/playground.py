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
from app_pages.common import hyper_input, train_with_progress
from ui.state import config, report, session
from ui.state.config import HIDEABLE, LIMITS, Config
from ui.state.events import apply_canvas_event, apply_event
from ui.state.grids import AGREE, Layers, band_layers, disagreement_shares, empty_layers
from ui.state.presets import PRESETS
from ui.state.workspace import (MAX_RETRAINS, RETRAINS, Diverged, Workspace, edit_points, new_workspace,
                                workspace_from_points)
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

# --- configuration: from the URL on a session's first run, then from the widgets ---------------------
if "cfg" not in ss:
    ss.cfg, ss.url_notes = config.from_query(st.query_params.to_dict())


def init_widgets(cfg: Config) -> None:
    """Put ``cfg`` into the widgets' session-state keys (first run, presets, loaded sessions)."""
    ss.w_dataset, ss.w_n, ss.w_seed, ss.w_test = cfg.dataset, cfg.n, cfg.seed, cfg.test
    ss.w_noise = cfg.resolved_noise()
    ss.w_classes = cfg.resolved_classes() or 2
    ss.w_width, ss.w_depth, ss.w_activation = cfg.width, cfg.depth, cfg.activation
    ss.w_fit_epochs, ss.w_fit_lr = cfg.fit_epochs, cfg.fit_lr
    ss.w_method, ss.w_device = cfg.method, cfg.device
    for m in METHODS:
        for k, v in config.method_defaults(m).items():
            ss[f"hp_{m}_{k}"] = v
    for k, v in cfg.hp.items():
        ss[f"hp_{cfg.method}_{k}"] = v
    ss.hide = cfg.hide


if "w_dataset" not in ss:
    init_widgets(ss.cfg)
hide = ss.get("hide", frozenset())


def apply_preset(name: str) -> None:
    p = PRESETS[name]
    cfg = Config(**{k: v for k, v in p.config.items() if k != "hp"}, hp=dict(p.config.get("hp", {})), hide=hide)
    init_widgets(cfg)
    ss.w_source = "Generate"
    ss.pending_preset = name
    ss.pop("failed_run", None)


st.title("Forget points, watch the boundary move")
st.info("**What to look for.** Select training points (click, box or lasso), press **Forget**, and watch the solid "
        "boundary move step by step: how close it comes to the dashed one, where models retrained from scratch "
        "without those points put it, is the thing to judge. The legend is under the canvas.",
        icon=":material/visibility:")
# Everything that comes and goes above the canvas (notes, training progress, errors) goes into this one container,
# so that the canvas keeps its place in the page and the component is not remounted (zoom, tool, playback kept).
notices = st.container()
notices.empty()  # always one (invisible) element: an empty container is not drawn at all, and the page would jump
for note in ss.get("url_notes", []):
    notices.warning(note)
ss.url_notes = []


# --- sidebar -------------------------------------------------------------------------------------------
sources = ["Generate", "Upload CSV", "Draw", "Session file"] if "draw" not in hide else ["Generate"]
with st.sidebar:
    if hide:
        st.caption("Classroom link: some controls are hidden.")
    source = st.radio("Data", sources, key="w_source", horizontal=True) if len(sources) > 1 else "Generate"
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
if st.query_params.to_dict() != query:
    st.query_params.from_dict(query)
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
if ss.get("session_loaded"):
    st.toast(f"Session restored from {ss.pop('session_loaded')}")
if source == "Generate":
    key = ("gen", cfg.data_key(), cfg.model_key())
    if ss.get("ws_key") != key:
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
        if ss.get("ws_key") != key:
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
if ws.model_cfg != model_cfg and ws.trained and source not in ("Draw", "Session file"):
    ws = Workspace(problem=ws.problem, source=ws.source, model_cfg=model_cfg, grid=ws.grid)
    with notices:
        train_with_progress(ws)
    ss.workspace = ws

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
    if draw_mode:
        mode = "add" if ss.get("w_draw_action", "Add points") == "Add points" else "remove"
    ss.workspace = apply_event(ss.workspace, ss.get("canvas"), mode=mode, draw_class=ss.get("w_draw_class", 0))


def request_forget() -> None:
    ss.forget_requested = True


def effective_hp(n_points: int, *, stretch: bool = True) -> tuple[dict, dict | None]:
    """(hyperparameters to run, the stretch applied or None): the widgets' values, for JiT stretched to a
    watchable number of steps (``report.watchable_hp``) unless switched off."""
    hp = cfg.hyperparameters()
    change = report.watchable_hp(n_points, hp) if method == "jit" and stretch and ss.get("w_watchable", True) else None
    return ({**hp, **change} if change else hp), change


def run_forget(hp: dict) -> None:
    """Forget the selection with a progress bar; a diverged run is kept aside to show, not applied."""
    bar = st.progress(0.0, text="Unlearning...")
    total = report.steps_for(len(ws.selection), hp["batch_size"], hp["epochs"]) if method == "jit" else None

    def on_step(step, loss):
        if total:
            bar.progress(min(1.0, step / total), text=f"step {step} of {total}, loss {loss:.3g}")

    try:
        ws.forget(method, hp, device=cfg.device, on_step=on_step)
        ss.pop("failed_run", None)
    except Diverged as err:
        ss.failed_run = dict(message=str(err), frames=err.frames, frame_steps=err.frame_steps,
                             history=err.history, method=method, hp=hp)
    except ValueError as err:
        st.error(str(err))
    bar.empty()


with right:
    # The presets sit beside the canvas (not above it) and folded, so that on a 1280x720 projector the canvas and
    # the Forget button are on screen; as wide as their labels, wrapping: none is cut off.
    preset_row = st.expander("Presets: the paper's story in one click", expanded=False).container(
        horizontal=True, wrap=True, gap="small")
    for name, p in PRESETS.items():
        preset_row.button(p.title, key=f"preset_{name}", on_click=apply_preset, args=(name,), width="content",
                          help=p.story)
    if ws.trained and (ss.pop("forget_requested", False) or run_now):
        run_forget(effective_hp(len(ws.selection), stretch=not run_now)[0])  # a preset runs its values as they are
    if draw_mode:
        st.subheader("Draw your own data")
        actions = ["Add points", "Remove points"] + (["Select to forget"] if ws.trained else [])
        if ss.get("w_draw_action") not in actions:
            ss.w_draw_action = "Add points"
        st.radio("A click on the canvas", actions, key="w_draw_action", horizontal=True,
                 help="After **Train**, pick *Select to forget* to select drawn points and forget them.")
        st.radio("Class of new points", list(range(config.MAX_CLASSES)), key="w_draw_class", horizontal=True,
                 format_func=lambda c: f"class {c}")
        c1, c2 = st.columns(2)
        if c1.button("Clear all points"):
            ss.workspace = ws = edit_points(ws, remove=range(len(ws.y)))
        if c2.button("Train", type="primary", disabled=len(np.unique(ws.y[ws.train_ids])) < 2):
            try:
                train_with_progress(ws)
                st.rerun()  # the page above the button (the click actions, the canvas) now shows a trained model
            except ValueError as err:
                st.error(str(err))
        n_tr = len(ws.train_ids)
        st.caption(f"{n_tr} training points, {len(ws.test_ids)} test points. Clicks add points to the training set. "
                   f"Switch the data source back to **Generate** to leave drawing mode (your drawing is discarded).")
        if not ws.trained:
            st.info("Press **Train** when your data is ready; then select points to forget.")

    if ws.trained:
        st.markdown(f"### {len(ws.selection)} point{'s' if len(ws.selection) != 1 else ''} selected")
        with st.expander("Quick selectors", expanded=False):
            classes = sorted(np.unique(ws.y[ws.train_ids]).tolist())
            # Callbacks run before the next script run, so the count above is already up to date.
            qc1, qc2 = st.columns([2, 1])
            qc1.selectbox("Class", classes, format_func=lambda c: f"class {c}", key="q_class")
            qc2.button("Select class", width="stretch", on_click=lambda: ss.workspace.select_class(ss.q_class))
            qc1, qc2 = st.columns([2, 1])
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
        st.button(f"Forget with {method}", type="primary", disabled=error is not None, on_click=request_forget,
                  help=error or f"Apply {method} to the {len(ws.selection)} selected points.", width="stretch")
        if error and not ws.selection:
            st.caption(error)
        loss_slot = st.empty()

# --- the canvas ----------------------------------------------------------------------------------------
title = "Drawing" if draw_mode else (f"After {len(ws.steps)} forget request{'s' * (len(ws.steps) > 1)}"
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


def canvas_data(band) -> dict:
    """The canvas component's data: the last forget request's frames (or the model now), the retrain band's
    majority and agreement (None: no ghost yet), the points and the selection."""
    steps, run = None, ""
    if not ws.trained:
        frames = []
    elif ws.steps:
        last = ws.steps[-1]
        frames, steps = [s for s, _ in last.frames], last.frame_steps
        run = f"{id(ws)}:{len(ws.steps)}:{id(last)}"
    else:
        frames = [ws.layers(ws.original).shade]
    ghost = Layers(None, None, band.majority(), band.agreed(AGREE)) if band is not None else None
    mode = "draw" if draw_mode and ss.get("w_draw_action") != "Select to forget" else "select"
    return payload_for(ws, frames=frames, frame_steps=steps, ghost=ghost, show_test=show_test, title=title,
                       run=run, autoplay=True, mode=mode,
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
    if ws.steps and not ws.has_retrain_band(n_retrains):
        if PLOTLY_CANVAS:
            slot.plotly_chart(canvas_spec(None), theme=None)  # the animation first; the K retrains follow
        else:
            with slot:
                canvas_component(canvas_data(None), key="canvas", on_event=on_canvas_event)
        with right:
            with st.spinner(f"Retraining {n_retrains} models from scratch (seeds 0..{n_retrains - 1}) for comparison..."):
                ws.retrain_band(n_retrains)
        if not PLOTLY_CANVAS:
            st.rerun()  # the same canvas (same key) takes the band; the animation plays on
        slot.empty()
    band = ws.retrain_band(n_retrains) if ws.steps else None
    retrained = ws.retrained() if ws.steps else None
    if PLOTLY_CANVAS:
        main_fig = canvas_spec(band)
        slot.plotly_chart(main_fig, **chart_kw)
    else:
        main_data = canvas_data(band)
        with slot:
            canvas_component(main_data, key="canvas", on_event=on_canvas_event)
    if draw_mode:
        st.caption("Click on the canvas to add a point of the chosen class (or remove the point under the cursor); "
                   "the point shows at once. Wheel zooms, drag pans.")
    if ws.trained and not draw_mode:
        how = ("Click a point to (de)select it; for many at once pick the box or lasso tool in the chart's toolbar "
               "(top right), then drag." if PLOTLY_CANVAS else
               "Click a point to (de)select it; for many at once pick **Box** or **Lasso** above the canvas (they stay "
               "on until you pick another tool) and drag. The wheel zooms and a drag with **Click** pans; **Reset "
               "zoom** or a double-click shows everything. Hover for a point's id and the model's confidence. After "
               "Forget the animation plays each optimiser step; **step ▶** goes one step at a time; the faint line "
               "is where the boundary started.")
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
                                             interactive=False, height=420), key="canvas_failed")

# --- comparison, metrics, history -----------------------------------------------------------------------
if ws.trained and not draw_mode:
    c_orig, c_ret = st.columns(2)
    c_orig.plotly_chart(canvas.figure_for(ws, ws.layers(ws.original), title="Original model", height=380,
                                          show_selection=False, show_test=show_test), theme=None)
    if ws.steps:
        c_ret.plotly_chart(canvas.figure_for(ws, ws.layers(retrained), height=380, show_selection=False,
                                             title="Retrained from scratch without the forgotten points",
                                             show_test=show_test), theme=None)
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

if ws.trained and "history" not in hide and not draw_mode:
    st.subheader("History")
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
if ws.trained and "export" not in hide and not draw_mode:
    st.subheader("Share and export")
    base = str(st.context.url or "").split("?")[0]
    st.caption("This link reproduces the configuration (dataset, seed, model, method and hyperparameters):")
    st.code(f"{base}?{urlencode(query)}", language=None)
    with st.expander("Classroom link: hide controls"):
        groups = st.multiselect("Controls to hide", list(HIDEABLE), format_func=HIDEABLE.get, key="w_hide")
        st.code(f"{base}?{urlencode(config.to_query(config.with_hidden(cfg, groups)))}", language=None)
        st.caption("Students who open this link see the page without those controls; the settings above still apply.")
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
