"""Streamlit pieces the pages share (the ``ui`` package itself never imports Streamlit)."""
import streamlit as st

from ui import report
from ui.workspace import Workspace, new_workspace


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
            chart.plotly_chart(report.loss_curve(history, title="Training", x="epoch", ys=("loss", "acc"),
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
