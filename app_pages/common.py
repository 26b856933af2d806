"""Streamlit pieces the pages share (the ``ui`` package itself never imports Streamlit)."""
from typing import Callable

import streamlit as st

import toy_data
from ui.state.compare import scenario_ids
from ui.state.config import Control
from ui.state.memory import release_freed, tune_allocator
from ui.state.workspace import Workspace, new_workspace
from ui.views.curves import loss_curve
from unlearn_core.problem import DATA_DEFAULTS


def start_session() -> None:
    """Once per browser session (app.py calls it on every run): fix the allocator's mmap threshold, and hand
    back to the system what sessions that ended before this one freed (``ui.state.memory``). Streamlit
    drops a closed session's state (``server.disconnectedSessionTTL`` seconds after its browser went away),
    but the C library keeps the freed memory unless asked to return it."""
    if st.session_state.get("_memory_checked"):
        return
    st.session_state["_memory_checked"] = True
    tune_allocator()
    release_freed()


def train_with_progress(ws: Workspace, *, curve: bool = True) -> None:
    """Train ``ws``'s original model with a progress bar and, optionally, a live loss / accuracy curve.
    Raises ValueError as ``Workspace.train`` does (e.g. a single class)."""
    epochs = ws.model_cfg.epochs
    bar = st.progress(0.0, text="Training the original model...")
    chart = st.empty()
    history = []

    def on_epoch(epoch, entry, model):
        history.append(entry)
        bar.progress(epoch / epochs, text=f"Training: epoch {epoch} of {epochs}, loss {entry['loss']:.3f}, "
                                          f"accuracy {100 * entry['acc']:.1f}%")
        if curve and epoch % max(1, epochs // 8) == 0:
            chart.plotly_chart(loss_curve(history, title="Training", x="epoch", ys=("loss", "acc"),
                                          x_title="epoch", height=220), theme=None)

    try:
        ws.train(callback=on_epoch)
    finally:
        bar.empty()
        chart.empty()


def own_workspace(prefix: str, dataset: str, *, n_samples: int, noise: float | None = None, seed: int = 0) -> Workspace:
    """A page's own trained workspace (when the Playground has none), kept in session state under
    ``{prefix}_ws`` and rebuilt only when its settings change. Stops the page with an error if the
    data cannot be built."""
    key = (dataset, int(n_samples), None if noise is None else round(float(noise), 4), int(seed))
    held = st.session_state.get(f"{prefix}_ws")
    if held is None or held["key"] != key:
        try:
            fresh = new_workspace(dataset, n_samples=int(n_samples), noise=noise, seed=int(seed))
            train_with_progress(fresh, curve=False)
        except ValueError as err:
            st.error(f"Could not build the dataset: {err}")
            st.stop()
        held = st.session_state[f"{prefix}_ws"] = {"key": key, "ws": fresh}
    return held["ws"]


def keep_latest(store: dict, key, value, limit: int) -> None:
    """Put ``value`` under ``key`` as the newest entry of a per-session cache, dropping the oldest beyond ``limit``."""
    store.pop(key, None)
    store[key] = value
    while len(store) > limit:
        store.pop(next(iter(store)))


def page_workspace(prefix: str, shared_caption: Callable[[Workspace], str]) -> tuple[Workspace, bool]:
    """The Playground's trained workspace (shared: True, with ``shared_caption(ws)`` shown), else the
    page's own, built from dataset / points / seed controls keyed ``{prefix}_...``."""
    ws = st.session_state.get("workspace")
    shared = ws is not None and getattr(ws, "trained", False)
    if shared:
        st.caption(shared_caption(ws))
        return ws, True
    st.caption("No trained model on the Playground yet, so this page trains its own.")
    c1, c2, c3 = st.columns(3)
    dataset = c1.selectbox("Dataset", list(toy_data.DATASETS), key=f"{prefix}_dataset")
    n_points = c2.slider("Points", 100, 1500, DATA_DEFAULTS["n_samples"], step=50, key=f"{prefix}_points")
    seed = c3.number_input("Seed", 0, 10_000, 0, key=f"{prefix}_seed")
    return own_workspace(prefix, dataset, n_samples=int(n_points), seed=int(seed)), False


def forget_source(ws: Workspace, shared: bool, prefix: str) -> str:
    """The forget-set choice: the Playground's selection, everything it forgot, or a scenario (the only
    choice on a page's own workspace). Defaults to the first non-empty one."""
    sources = ["selection", "forgotten", "scenario"] if shared else ["scenario"]
    if len(sources) == 1:
        return "scenario"
    counts = {"selection": len(ws.selection), "forgotten": len(ws.forgotten)}
    labels = {"selection": f"the Playground's current selection ({counts['selection']} points)",
              "forgotten": f"everything forgotten so far on the Playground ({counts['forgotten']} points)",
              "scenario": "a scenario"}
    default = next((i for i, s in enumerate(sources) if counts.get(s, 1) > 0), len(sources) - 1)
    return st.radio("Forget set", sources, index=default, format_func=labels.get, horizontal=True,
                    key=f"{prefix}_source")


def forget_ids_from(ws: Workspace, source: str, prefix: str, scenarios: dict[str, str]) -> list[int]:
    """The global ids of ``source``; for "scenario", with its controls (scenario, class, count, seed).
    Raises ValueError as ``scenario_ids`` does."""
    if source == "selection":
        return sorted(ws.selection)
    if source == "forgotten":
        return ws.forgotten.tolist()
    c1, c2, c3 = st.columns(3)
    setting = c1.selectbox("Scenario", list(scenarios), format_func=scenarios.get, key=f"{prefix}_setting")
    kw = {}
    if setting in ("full_class", "region"):
        kw["forget_class"] = int(c2.number_input("Class", 0, max(0, ws.n_classes - 1), 0, key=f"{prefix}_class"))
    if setting == "random":
        kw["forget_count"] = c2.slider("Random points", 1, 100, 20, key=f"{prefix}_count")
    scen_seed = c3.number_input("Scenario seed", 0, 10_000, 0, key=f"{prefix}_scenario_seed") \
        if setting in ("random", "region") else 0
    return scenario_ids(ws, setting, seed=int(scen_seed), **kw).tolist()


def hyper_input(where, control: Control, key: str, value=None):
    """The widget of one method hyperparameter (``ui.state.config.hyper_controls``) in ``where`` (``st``,
    the sidebar or a column), keyed ``key``; ``value`` is its initial value (None: the value already in
    session state under ``key``). Returns the widget's value."""
    kw = dict(key=key, help=control.help or None)
    if control.kind == "choice":
        options = list(control.choices)
        if value is not None:
            kw["index"] = options.index(value)
        return where.selectbox(control.label, options, format_func=control.choice_label, **kw)
    if control.kind == "bool":
        if value is not None:
            kw["value"] = bool(value)
        return where.checkbox(control.label, **kw)
    kind = int if control.integer else float
    if value is not None:
        kw["value"] = kind(value)
    if not control.integer:
        kw["format"] = "%.4g"
    return where.number_input(control.label, kind(control.lo), kind(control.hi), step=kind(control.step), **kw)
