"""Forgetting audit: per forget point, can K unlearned models be told from K models retrained without it?"""
import sys
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # `streamlit run app_pages/audit.py` on its own puts only app_pages/ on the path
    sys.path.insert(0, ROOT)

import numpy as np
import streamlit as st
import torch

from app_pages.common import forget_ids_from, forget_source, hyper_input, keep_latest, page_workspace
from ui.state import audit
from ui.state.config import JIT_KNOBS, hyper_controls, method_defaults
from ui.views import audit as audit_views
from ui.views.canvas import figure_for
from ui.views.compare import display_only
from unlearn_core import METHODS
from unlearn_core.audit import epsilon_max, run_audit
from unlearn_core.ensemble import BATCHED

torch.set_num_threads(1)  # the models are tiny: one thread is fair to other sessions
ss = st.session_state

RESULTS = "audit_results"  # session key: {cache_key: AuditResult}, the last few runs
POINT = "audit_point"  # session key: the global id whose histograms are shown
CANVAS = "audit_canvas"  # the epsilon canvas' widget key (its selection state)
MAX_KEPT = 4

st.title("Forgetting audit")
st.markdown(
    "**What to look for.** Was each forget point *really* forgotten? The audit makes **K** unlearned models (by "
    "default as the NeurIPS 2023 challenge did: one original model, unlearned K times with K seeds) and **K** models "
    "retrained from scratch without the forget set, "
    "and asks, point by point, how well the best threshold on that point's confidence tells an unlearned model "
    "from a retrained one: **ε** (0 = cannot, the cap 50 = perfectly). On the canvas each forget point is coloured "
    "by its ε; click one to see the two distributions behind it. A second set of retrained models (the **floor**) "
    "shows what a perfect method scores with K models; the original models, not unlearned at all, are the "
    "**ceiling** (under the challenge's protocol that is one model K times, at the cap by construction). Floor and "
    "ceiling name ε's range: the floor is the lowest ε (the highest forget quality F) K models can show, the ceiling "
    "the highest ε (the lowest F). Where a method lands between them depends on the setup and the protocol: the "
    "findings under the table say it for this run, read off its numbers.")

# --- the workspace: the Playground's when it has a trained model, else our own ------------------
ws, shared = page_workspace("audit", lambda w: (
    f"Using the Playground's data and model recipe ({w.problem.dataset}, {len(w.train_ids)} training points, "
    f"{w.model_cfg.depth}x{w.model_cfg.width} {w.model_cfg.activation} MLP, {w.model_cfg.epochs} epochs). The audit "
    "trains its own K models with that recipe; the canvas' background is the Playground's original model."))

# --- the forget set ------------------------------------------------------------------------------
st.subheader("What to forget")
source = forget_source(ws, shared, "audit")
forget_error, empty_reason = None, None
forget_ids = np.zeros(0, np.int64)
try:
    raw = forget_ids_from(ws, source, "audit", audit.SCENARIOS)
    if len(raw) == 0:
        empty_reason = {"selection": "Nothing is selected on the Playground: select training points there, or pick "
                                     "another forget set.",
                        "forgotten": "Nothing has been forgotten on the Playground yet.",
                        "scenario": "This scenario finds no points on this data: pick another one."}[source]
    else:
        forget_ids = audit.validate_forget(ws, raw)
except ValueError as err:
    forget_error = str(err)

# --- methods, hyperparameters, K -----------------------------------------------------------------
choices = [m for m in METHODS if m != audit.FLOOR]


def method_label(m: str) -> str:
    kind = "zero-shot" if METHODS[m].needs == "forget" else f"uses {METHODS[m].needs} data"
    return f"{m} ({kind})" if m in BATCHED else f"{m} ({kind}; model by model, slower)"


methods = st.multiselect("Methods to audit (retraining always runs: it is the reference and the floor)", choices,
                         default=["jit"], key="audit_methods", format_func=method_label,
                         help="\n\n".join(f"**{m}**: {METHODS[m].summary}" for m in choices))
jit_base = method_defaults("jit")
pg_cfg = ss.get("cfg")
from_playground = shared and pg_cfg is not None and getattr(pg_cfg, "method", None) == "jit"
if from_playground:
    jit_base.update({k: v for k, v in pg_cfg.hp.items() if k in jit_base})
jit_values = {}
if "jit" in methods:
    with st.expander("JiT hyperparameters" + (" (the Playground's current settings)" if from_playground else "")):
        cols = st.columns([1] * len(JIT_KNOBS) + [1.7])
        controls = hyper_controls("jit")  # the Playground's widgets: limits and help from jit's file
        for col, name in zip(cols, [*JIT_KNOBS, "normalize_step"]):
            jit_values[name] = hyper_input(col, controls[name], f"audit_jit_{name}", jit_base[name])
        st.caption("The other methods use their defaults (as on the Compare page).")
overrides = {"jit": audit.jit_overrides(jit_values)} if "jit" in methods else {}

c1, c2 = st.columns([3, 1])
K = int(c1.select_slider("K: models per sample", audit.K_CHOICES, value=audit.DEFAULT_K, key="audit_K",
                         help="K unlearned models per method, K retrained as the reference and K more retrained for "
                              "the floor. More models resolve larger ε (⌈ln(K − 1)⌉) and give steadier scores; the "
                              "challenge used 512."))
protocol = c1.radio(
    "Where the K unlearned models come from", list(audit.PROTOCOLS), key="audit_protocol",
    index=list(audit.PROTOCOLS).index(audit.DEFAULT_PROTOCOL), format_func=audit.PROTOCOLS.get,
    help="**One original, unlearned K times** (the NeurIPS 2023 challenge's protocol, google-deepmind/"
         "unlearning_evaluation): the K models differ only by the method's seed. A deterministic method (SSD, "
         "LF-SSD) and the ceiling then give K identical models, and every ε is the cap 50 by the challenge's spread "
         "rule. **K originals, unlearned once each**: K models trained with K seeds, each unlearned once, so the "
         "spread of training is part of what is measured.")
devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
device = c2.radio("Device", devices, horizontal=True, key="audit_device") if len(devices) > 1 else "cpu"
est = audit.estimate_seconds(K, len(ws.train_ids), ws.model_cfg.epochs, len(methods), protocol)
originals_text = "one original" if protocol == "challenge" else f"{K} originals"
c1.caption(f"K = {K}: {originals_text} and {2 * K} retrains of {len(ws.train_ids)} training points for "
           f"{ws.model_cfg.epochs} epochs, all at once; about {est:.0f} s on one CPU thread"
           f"{' (NegGrad+ adds a few seconds: it runs model by model)' if 'neggrad_plus' in methods else ''}. "
           f"With K models, ε is resolved up to about ⌈ln(K − 1)⌉ = {epsilon_max(K):g}: a point whose two samples of "
           f"K separate completely (or have no spread) is set to the cap 50, so a mean ε can lie far above "
           f"{epsilon_max(K):g}.")

if forget_error:
    st.error(forget_error)
    st.stop()

reason = empty_reason or (None if methods else "Pick at least one method to audit.")
if reason is None:
    st.write(f"**{len(forget_ids)}** training points to forget, **{len(ws.train_ids) - len(forget_ids)}** retained.")
key = audit.cache_key(ws, forget_ids, methods, overrides, K, device, protocol) if reason is None else None
store = ss.setdefault(RESULTS, {})
run = st.button("Run the audit", type="primary", key="audit_run", disabled=reason is not None, help=reason)
if reason is not None:
    st.info(reason)
    st.stop()

if run and key not in store:
    bar = st.progress(0.0, text="Starting…")
    last = [0.0]

    def on_progress(stage: str, fraction: float) -> None:
        now = time.perf_counter()
        if now - last[0] > 0.1 or fraction >= 1:
            last[0] = now
            bar.progress(min(1.0, max(0.0, fraction)),
                         text=f"{audit.progress_text(stage, K, protocol)} ({100 * fraction:.0f}%)")

    try:
        result = run_audit(**audit.audit_inputs(ws, forget_ids), K=K, methods=methods, overrides=overrides,
                           device=device, progress=on_progress, protocol=protocol)
    except (ValueError, RuntimeError) as err:
        bar.empty()
        hint = (" A method probably diverged (its models' outputs are no longer finite): try a smaller step size "
                "or σ.") if "finite" in str(err) else ""
        st.error(f"The audit failed and nothing was kept: {err}.{hint}")
        st.stop()
    bar.empty()
    keep_latest(store, key, result, MAX_KEPT)

result = store.get(key)
if result is None:
    st.info(f"Press **Run the audit** to train and unlearn {audit.n_trained(K, protocol) + K * len(methods)} models "
            f"(about {est:.0f} s).")
    preview = figure_for(ws, ws.layers(ws.original), title="original model; crosses = the points to audit",
                         height=420, show_selection=False, forgotten=forget_ids)
    st.plotly_chart(display_only(preview), theme=None, width="content", key="audit_preview")
    st.stop()

# --- results -------------------------------------------------------------------------------------
st.subheader("Findings")
for message in result.errors.values():
    st.error(message)
for line in audit.findings(result):
    st.markdown(f"- {line}")
for note in audit.protocol_notes(result):
    st.info(note)

order = audit.display_order(result)
first_method = next((i for i, n in enumerate(order) if result.scores[n].role == "method"), 0)
left, right = st.columns([1.05, 1])
with left:
    shown = st.selectbox("Colour the points by their ε under", order, index=first_method,
                         format_func=lambda n: audit.role_label(result, n), key="audit_show")
    point = audit.pick_point(ss.get(CANVAS), ws, result, ss.get(POINT))
    if point is None:
        point = audit.default_point(ws, result, shown)
    ss[POINT] = point
    fig = audit_views.epsilon_figure(ws, audit.epsilon_view(ws, result, shown), ws.layers(ws.original),
                                     chosen=point,
                                     title=f"ε per point under {audit.role_label(result, shown)} (K = {result.K})")
    st.plotly_chart(fig, theme=None, key=CANVAS, on_select="rerun", selection_mode="points",
                    config={"displaylogo": False})
    st.caption("Big dots: the forget points, coloured by ε (pale = like retraining, dark = easy to tell; values at "
               f"or above ε_max = {result.eps_max:g} saturate). Diamonds: a random sample of retained points, "
               "audited the same way (unlearning can disturb them too). Small dots: the other training points. "
               "Background: the original model. Click a dot or diamond; the blue ring marks the point shown on "
               "the right (at first, the forget point with the largest ε).")
with right:
    view = audit.point_view(ws, result, shown, point)
    st.plotly_chart(audit_views.histogram_figure(view), theme=None, key="audit_hist")
    st.markdown(audit_views.point_summary(view))
    st.caption("Each histogram holds one number per model: this point's logit-scaled confidence. ε asks how well "
               "one threshold (dashed) or band (shaded yellow) separates orange from purple; grey, the original models "
               "before unlearning, shows where the method started (hollow bars).")

st.subheader("Summary")
table = audit.summary_table(result)
fmt = {col: ("{:.1f}" if scale == 100.0 else "{:.3f}") for _, col, scale in audit.COLUMNS}
if not table[audit.NOTE].any():
    table = table.drop(columns=audit.NOTE)  # no row without spread: no empty column
for _, col, _ in audit.COLUMNS:
    if "ε" in col or "U-LiRA" in col:
        fmt[col] = "{:.2f}"
st.table(table.style.format(fmt, na_rep=""))  # a static table: its long headers wrap
floor = result.scores[audit.FLOOR]
st.caption(
    f"Protocol: {audit.PROTOCOLS[result.protocol]}. "
    f"K = {result.K} models per sample (ε_max = {result.eps_max:g}); {len(result.forget_rows)} forget points and a "
    f"retain sample of {len(result.retain_rows)}. **F with K models is bounded by the floor row "
    f"({floor.F:.3f} here), not by 1**: even retraining twice does not give identical distributions, and the "
    f"estimator's maximum over many thresholds finds ε ≈ 1.5 between two samples of the same thing. "
    f"Floor = a second set of {result.K} retrained models judged against the reference; ceiling = the "
    + (f"original, not unlearned ({result.K} copies of it: no spread, so ε = 50 everywhere by construction)"
       if result.protocol == "challenge" else f"{result.K} originals, not unlearned")
    + f". Accuracies are means over the K models; seconds: the method alone on "
    f"all K models. The whole audit took {sum(result.seconds.values()):.1f} s.")

st.subheader("What the numbers mean")
with st.expander("ε, the floor and ε_max", expanded=False):
    st.markdown(audit_views.explain_epsilon(result.K, result.eps_max))
with st.expander("Why a population MIA can say “forgotten” while this test says “not”"):
    st.markdown(audit_views.EXPLAIN_POPULATION)
with st.expander("The challenge's points, forget quality F and the final score"):
    st.markdown(audit_views.explain_score(result.K, result.eps_max))
