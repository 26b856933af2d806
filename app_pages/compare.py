"""Compare: one forget set, several unlearning methods side by side, each held against retraining."""
import sys
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # `streamlit run app_pages/compare.py` on its own puts only app_pages/ on the path
    sys.path.insert(0, ROOT)

import streamlit as st
import torch

from unlearn_core import METHODS
from app_pages.common import forget_ids_from, forget_source, hyper_input, keep_latest, page_workspace
from ui.state.compare import (GAP_METRICS, METRIC_COLUMNS, REFERENCE, boundary_layers, comparison_table,
                              gap_frame, is_current, result_key, run_comparison, validate_forget)
from ui.state.config import JIT_KNOBS, hyper_controls
from ui.state.grids import AGREE
from ui.state.workspace import RETRAINS, Diverged
from ui.views.canvas import figure_for
from ui.views.compare import boundary_figures, display_only, gap_figure, panel_caption

torch.set_num_threads(1)  # the models are tiny: one thread is fastest and fair to other sessions

RESULTS = "compare_results"  # session key: {result_key: Comparison}, the last few runs
MAX_KEPT = 4
SETTINGS = {"high_info": "high-information points", "random": "random points", "full_class": "a whole class",
            "region": "a region at a class edge"}

st.title("Compare unlearning methods")
st.markdown(
    "**What to look for.** Every method starts from the same original model and forgets the same points "
    "(crosses). In each panel the solid line is the method's boundary, the **dashed line is the boundary of a "
    "model retrained from scratch** without those points, and the grey shading is where the two disagree: less "
    "grey means closer to retraining. In the table, forget accuracy and MIA should move *to retrain's value* "
    "(not to 0) while retain and test accuracy hold. JiT only sees the points to forget; the other methods also "
    "train on the retained data, so compare the seconds too.")

# --- the workspace: the Playground's when it has a trained model, else our own ------------------
ws, shared = page_workspace("compare", lambda w: (
    f"Using the Playground's data and original model ({w.problem.dataset}, {len(w.train_ids)} training points). "
    "Every method starts from the original model, not from the Playground's unlearned one."))

# --- the forget set ------------------------------------------------------------------------------
st.subheader("What to forget")
source = forget_source(ws, shared, "compare")
forget_error = None
forget_ids = []
try:
    forget_ids, retain_ids = validate_forget(ws, forget_ids_from(ws, source, "compare", SETTINGS))
except ValueError as err:
    forget_error = str(err)

# --- methods and JiT's hyperparameters ----------------------------------------------------------
choices = [m for m in METHODS if m != REFERENCE]


def method_label(m: str) -> str:
    return f"{m} (zero-shot)" if METHODS[m].needs == "forget" else f"{m} (uses {METHODS[m].needs} data)"


# The default set runs in a few seconds; the other baselines (SCRUB, SSD, Bad Teacher, ...) are one click away.
DEFAULT_METHODS = ["jit", "finetune", "neggrad_plus", "random_label"]
methods = st.multiselect("Methods (retraining from scratch always runs: it is the reference)", choices,
                         default=[m for m in DEFAULT_METHODS if m in choices], key="compare_methods", format_func=method_label,
                         help="\n\n".join(f"**{m}**: {METHODS[m].summary}" for m in METHODS))
jit_default = METHODS["jit"].defaults()
jit_hp = {}
with st.expander("JiT hyperparameters"):
    c = st.columns(len(JIT_KNOBS))
    controls = hyper_controls("jit")  # the Playground's widgets: limits and one-line help from jit's file
    for col, name in zip(c, JIT_KNOBS):
        jit_hp[name] = hyper_input(col, controls[name], f"compare_jit_{name}", jit_default[name])
overrides = {"jit": {k: v for k, v in jit_hp.items() if v != jit_default[k]}}

if forget_error:
    st.error(forget_error)
    st.stop()
if not methods:
    st.info("Pick at least one method to compare with retraining.")
    st.stop()

st.write(f"**{len(forget_ids)}** training points to forget, **{len(retain_ids)}** retained.")
key = result_key(ws, forget_ids, methods, overrides)
store = st.session_state.setdefault(RESULTS, {})
run = st.button("Run", type="primary", key="compare_run")

if run:
    bar = st.progress(0.0, text="Starting...")
    last = [0.0]

    def on_progress(done, total, method, step, loss):
        now = time.perf_counter()
        if now - last[0] > 0.1 or done >= total:
            last[0] = now
            bar.progress(min(1.0, done / max(total, 1)),
                         text=f"{method}: step {step}, loss {loss:.3g} ({done} of ~{total} steps over all methods)")
    try:
        comp = run_comparison(ws, forget_ids, methods, overrides, progress=on_progress)
    except Diverged as err:
        bar.empty()
        st.error(f"Retraining from scratch failed ({err}), so there is no reference to compare with.")
        st.stop()
    bar.empty()
    keep_latest(store, key, comp, MAX_KEPT)

comp = store.get(key)
if not is_current(comp, ws):
    st.info("Press **Run** to unlearn these points with each method and retrain from scratch.")
    preview = figure_for(ws, ws.layers(ws.original), title="original model; crosses = points to forget", height=380,
                         show_selection=False, forgotten=forget_ids)
    st.plotly_chart(display_only(preview), theme=None, width="content", key="compare_preview")
    st.stop()

# --- results -------------------------------------------------------------------------------------
st.subheader("Final boundaries")
if not ws.has_retrain_band(RETRAINS, comp.forget_ids):
    with st.spinner(f"Retraining {RETRAINS} models from scratch (seeds 0..{RETRAINS - 1}) for the oracle band..."):
        ws.retrain_band(RETRAINS, comp.forget_ids)
band = ws.retrain_band(RETRAINS, comp.forget_ids)
st.caption(f"Solid: the model's boundary. Dashed: where most of {RETRAINS} models retrained from scratch (seeds "
           f"0..{RETRAINS - 1}) put it. Grey: the model disagrees with retraining where at least {AGREE:.0%} of "
           "the retrains agree. Yellow: the retrains disagree among themselves, so retraining's own randomness "
           "decides there and no method is blamed. Crosses: the forgotten points. Hollow circles: test points. "
           "The table's boundary column compares with one retrain (seed 0).")
panels = boundary_figures(ws, boundary_layers(ws, comp, band), forgotten=comp.forget_ids)
per_row = 3
for start in range(0, len(panels), per_row):
    cols = st.columns(per_row)
    for col, (name, fig) in zip(cols, panels[start:start + per_row]):
        with col:
            if fig is None:
                st.markdown(f"**{name}**")
                st.error(f"{name} {panel_caption(comp, name)}. Its result is left out; try a smaller lr or "
                         f"sigma.")
            else:
                st.plotly_chart(fig, theme=None, width="content", key=f"compare_grid_{name}")
                st.caption(panel_caption(comp, name))

st.subheader("Metrics")
table = comparison_table(comp).drop(columns=["steps"])
if table["status"].isin(["before", "reference", "ok"]).all():
    table = table.drop(columns=["status"])  # shown only when a method failed
fmt = {col: "{:.1f}" for _, col, scale in METRIC_COLUMNS if scale == 100.0}
fmt.update({col: "{:.3f}" for _, col, scale in METRIC_COLUMNS if scale == 1.0})
fmt.update({col: "{:+.1f}" for col in GAP_METRICS.values()})
fmt["seconds"] = lambda v: "—" if v is None or v != v else f"{v:.3f}"  # the original has no method time
st.dataframe(table.style.format(fmt, na_rep=""), key="compare_table")
st.caption("↑ higher is better, ↓ lower is better, (→ retrain): the target is the retrained model's value. "
           "Δ = model − retrain, in percentage points. MIA = share of the forget set that an entropy-based "
           "attack calls 'member' (the paper's entropy + logistic-regression variant). JS = mean Jensen-Shannon "
           "divergence (0 to 1) from the retrained model's predictions on the forget / test points. Seconds: the "
           "method alone, evaluation excluded.")
st.plotly_chart(gap_figure(gap_frame(comp)), theme=None, key="compare_gaps")
