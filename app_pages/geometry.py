"""Geometry: what JiT's step does near the forget points. Information alpha(x), the local Lipschitz estimate before and after
JiT, the perturbation cloud around a point, JiT's two gradients (detached / full) at the chosen point next
to a model retrained without it, and the 1-D sigmoid example. The numbers and figures
come from ``unlearn_core.geometry`` (the maths), ``ui.state.geometry`` (model runs) and
``ui.views.geometry`` (the figures); this script only lays them out and keeps per-session caches."""
import numpy as np
import pandas as pd
import streamlit as st
import torch

import toy_data
from app_pages.common import keep_latest, own_workspace
from ui.state import geometry as geo_state
from ui.state.events import chosen_point
from ui.state.workspace import ModelConfig
from ui.views import geometry as geo_views
from unlearn_core import METHODS, scenarios
from unlearn_core import geometry as geom
from unlearn_core.problem import DATA_DEFAULTS

torch.set_num_threads(1)  # the models are tiny: one thread is fastest and fair to other sessions

RES = 60  # heat-map grid (RES x RES)
RES_BOUNDARY = 100  # class grid for the decision-boundary lines
JIT = METHODS["jit"].defaults()
CACHE = "geometry_cache"


def memo(slot: str, key: tuple, fn, keep: int = 6):
    """A small per-session cache: ``fn()`` once per key (models in keys compare by identity)."""
    store = st.session_state.setdefault(CACHE, {}).setdefault(slot, {})
    if key not in store:
        keep_latest(store, key, fn(), keep)
    return store[key]


st.title("Geometry: what JiT's step does near the forget points")
st.info(
    "**What to look for.** Red points (low α) sit among the other class: their label cannot be inferred from "
    "their neighbours, so the model had to *learn* them. Around such a point the model's output changes fast "
    "(bright in the heat map), and JiT's random perturbations land on both sides of the boundary. JiT pulls the "
    "output at the point towards the outputs around it, so those points lose their label, while points deep "
    "inside their class (blue, α ≈ 1, flat surroundings) hardly change.")

# --- data and model ------------------------------------------------------------------------------
playground = st.session_state.get("workspace")
has_playground = playground is not None and getattr(playground, "trained", False)
with st.expander("Data and model", expanded=not has_playground):
    use_playground = has_playground and st.toggle("Use the Playground's data and current model", True,
                                                  key="geometry_use_playground")
    if use_playground:
        ws, model = playground, playground.model
        note = ("The Playground's data and its current model"
                + (f" (after {len(ws.steps)} forget request(s))." if ws.steps else " (the original)."))
        ws_key = ("playground", id(ws), model, len(ws.train_ids))
    else:
        if not has_playground:
            st.caption("No trained model in the Playground yet, so this page trains its own small one.")
        c1, c2, c3, c4 = st.columns(4)
        dataset = c1.selectbox("Dataset", list(toy_data.DATASET_INFO), key="geometry_dataset")
        info = toy_data.dataset_info(dataset)
        n_points = c2.slider("Points", 200, 800, 400, step=50, key="geometry_points")
        noise = c3.slider("Noise", 0.0, float(info.max_noise), float(info.default_noise), key=f"geometry_noise_{dataset}")
        seed = int(c4.number_input("Seed", 0, 10_000, 0, key="geometry_seed"))
        ws_key = ("own", dataset, n_points, round(noise, 4), seed)
        ws = own_workspace("geometry", dataset, n_samples=n_points, noise=noise, seed=seed)
        if st.session_state.get("geometry_ws_seen") is not ws:  # new data: drop results computed on the old
            st.session_state.pop(CACHE, None)
            st.session_state["geometry_ws_seen"] = ws
        model = ws.original
        m = ModelConfig()  # own_workspace's model: the default recipe, on the default split
        act = {"relu": "ReLU", "gelu": "GELU"}.get(m.activation, m.activation)
        note = (f"Own model: a {m.depth}x{m.width} {act} MLP trained on {100 * (1 - DATA_DEFAULTS['test_size']):.0f}% "
                f"of {n_points} {dataset} points (seed {seed}).")
    st.caption(note)

train_ids = ws.train_ids
Xtr, ytr = ws.X[train_ids], ws.y[train_ids]
k = ws.n_classes
bounds = tuple(ws.gridspec.bounds)
scale = geom.standard_scale(Xtr)

# --- controls ------------------------------------------------------------------------------------
c1, c2, c3, c4, c5 = st.columns(5)
radius = c1.slider("Radius r", 0.1, 1.0, 0.3, step=0.05, key="geometry_r",
                   help="Neighbourhood radius for α, in standardised units (each feature divided by its "
                        "standard deviation over the training points).")
tau = c2.slider("Threshold τ", 0.0, 1.0, 0.5, step=0.05, key="geometry_tau",
                help="Points with α < τ count as high-information.")
sigma = c3.slider("JiT σ", 0.05, 1.0, float(JIT["sigma"]), step=0.05, key="geometry_sigma",
                  help="Standard deviation of JiT's input perturbations, in the same standardised units.")
n_samples = c4.slider("Perturbations N", 5, 100, int(JIT["n_samples"]), step=5, key="geometry_n")
lr = c5.select_slider("JiT step length", [0.01, 0.03, 0.1, 0.3, 1.0], value=float(JIT["lr"]), key="geometry_lr",
                      help="JiT's lr. With the library's 2-D default normalize_step='first' it is a step length "
                           "in parameter space, fixed by the first step's gradient norm.")

alpha = scenarios.information(Xtr, ytr, radius)
high = geom.high_info_mask(alpha, tau)

# --- the chosen point (click, or the fallback selectbox) ------------------------------------------
order = np.lexsort((train_ids, np.nan_to_num(alpha, nan=2.0)))  # lowest alpha first
options = [int(i) for i in train_ids[order]]
pos = {int(g): j for j, g in enumerate(train_ids)}
st.session_state["geometry_point_options"] = options
correct = memo("correct", (ws_key, model), lambda: geom.predicted_class(model, Xtr) == ytr)
if st.session_state.get("geometry_point") not in pos:  # default: the lowest-alpha point the model got right
    st.session_state["geometry_point"] = next((g for g in options if correct[pos[g]]), options[0])
# A click on the alpha chart (its selection state) picks the point; a selection seen before does not
# override a later pick in the selectbox. Read here rather than in on_select so an injected state works too.
click = chosen_point(st.session_state.get("geometry_alpha_chart"), options)
if click is not None and click != st.session_state.get("geometry_last_click"):
    st.session_state["geometry_point"] = click
st.session_state["geometry_last_click"] = click


def _label(g: int) -> str:
    a = alpha[pos[g]]
    return f"#{g} · class {int(ws.y[g])} · α = " + ("n/a (no neighbour)" if np.isnan(a) else f"{a:.2f}")


# --- JiT on the forget set ------------------------------------------------------------------------
t1, t2 = st.columns([3, 2])
target = t1.radio("Forget with JiT", ["high", "chosen"], horizontal=True, key="geometry_target",
                  format_func=lambda t: {"high": "the high-information training points (α < τ)",
                                         "chosen": "only the chosen point"}[t])
memorised = t2.checkbox("only those the model classifies correctly", True, key="geometry_correct",
                        disabled=target != "high",
                        help="The points the model memorised despite their neighbours, as in the bench's "
                             "high_info setting. Unticked: every point with α < τ.")
chosen = int(st.session_state["geometry_point"])
if target == "high":
    forget_ids = train_ids[high & correct] if memorised else train_ids[high]
else:
    forget_ids = np.array([chosen], np.int64)
hp = dict(sigma=float(sigma), n_samples=int(n_samples), lr=float(lr))
after = None
if len(forget_ids):
    after = memo("jit", (ws_key, model, tuple(forget_ids.tolist()), tuple(sorted(hp.items()))),
                 lambda: geo_state.run_jit(model, ws.X[forget_ids], ws.y[forget_ids], **hp))
    st.caption(f"JiT runs on **{len(forget_ids)}** training point(s) with the library's 2-D defaults "
               f"(σ = {sigma:g}, N = {n_samples}, step length {lr:g}, batch size {JIT['batch_size']}, one pass). "
               "As in the paper, it only ever evaluates its loss at these forget points: zero-shot, no other data. "
               "α and τ come from the paper's information-theoretic framing and only choose the points here; "
               "the algorithm itself never computes them.")
else:
    st.warning(f"No training point has α < {tau:g} at radius {radius:g}"
               + (" among those the model classifies correctly" if memorised else "")
               + ": raise τ or r, add noise to the data, or forget the chosen point instead.")

# --- 1. information and the perturbation cloud ----------------------------------------------------
st.subheader("1. Information: can a point's label be guessed from its neighbours?")
st.latex(r"\alpha(x) = \frac{1}{|B_r(x)|}\sum_{z \in B_r(x)} \mathbb{1}[c(z) = c(x)], \qquad "
         r"B_r(x) = \{z \neq x : \lVert z - x \rVert \le r\}")
st.caption("α near 1: the neighbours agree, the point adds little information (low-information). α < τ: the "
           "neighbours mostly disagree, the point is *high-information* (black ring). Distances are in standardised "
           "units (as in `unlearn_core.scenarios`), so the dotted circle of radius r looks like an ellipse.")
left, right = st.columns(2)
with left:
    cls_before = memo("classes", (ws_key, model), lambda: geo_state.class_grid(model, bounds, RES_BOUNDARY)[1])
    fig = geo_views.information_figure(Xtr, ytr, train_ids, alpha, tau=tau, bounds=bounds, n_classes=k,
                                       boundary=cls_before, chosen=chosen, radius=radius, scale=scale,
                                       title=f"α per training point ({int(high.sum())} with α < τ)")
    st.plotly_chart(fig, key="geometry_alpha_chart", on_select="rerun", selection_mode="points", theme=None,
                    width="content")
    st.selectbox("Chosen point (click one in the plot, or pick it here; lowest α first)", options,
                 format_func=_label, key="geometry_point")
with right:
    which = st.radio("Cloud under", ["original", "after JiT"], horizontal=True, key="geometry_cloud_model",
                     disabled=after is None)
    if after is None:
        which = "original"
    shown = after if which == "after JiT" else model
    cloud = geom.perturbation_cloud(shown, ws.X[chosen], sigma, n_samples, seed=0)
    st.plotly_chart(geo_views.cloud_figure(cloud, geo_state.cloud_window(shown, cloud, sigma), sigma=sigma,
                                           n_classes=k, label=int(ws.y[chosen]),
                                           title=f"{n_samples} perturbations of #{chosen} ({which} model)"),
                    key="geometry_cloud_chart", theme=None, width="content")
    loss_before = geom.perturbation_cloud(model, ws.X[chosen], sigma, n_samples, seed=0).loss
    m1, m2, m3 = st.columns(3)
    a = alpha[pos[chosen]]
    m1.metric("α(x)", "n/a" if np.isnan(a) else f"{a:.2f}")
    if after is not None:
        loss_after = geom.perturbation_cloud(after, ws.X[chosen], sigma, n_samples, seed=0).loss
        m2.metric("JiT loss ℓ(x) after", f"{loss_after:.3g}", delta=f"{loss_after - loss_before:+.3g} vs original",
                  delta_color="off")
    else:
        m2.metric("JiT loss ℓ(x)", f"{loss_before:.3g}")
    m3.metric("cloud in another class", f"{100 * cloud.share_other:.0f}%")
    p_own = float(cloud.prob_x[int(ws.y[chosen])])
    st.caption(f"The star is x (its label's colour), the dashed ellipse radius σ. Each dot is x + ξ with "
               f"ξ ~ N(0, σ²I), coloured by the class the {which} model predicts there. JiT's loss at x under the "
               f"original model is ℓ(x) = {loss_before:.3g} (logits, same ξ for both models); the {which} model gives "
               f"x its own class with probability {p_own:.2f}.")

# --- 2. the local Lipschitz estimate before and after JiT -----------------------------------------
st.subheader("2. Sharpness: how fast does the output change around each point?")
st.latex(r"L = \sup_{x \neq y} \frac{\lVert f(x) - f(y) \rVert_2}{\lVert x - y \rVert_2}, \qquad "
         r"\ell(x) = \frac{1}{N}\sum_{j=1}^{N} \frac{\lVert f(x) - f(x + \xi_j) \rVert_2}{\lVert \xi_j \rVert_2},"
         r"\quad \xi_j \sim \mathcal{N}(0, \sigma^2 I)")
st.caption("L is the Lipschitz constant; restricted to a ball around x it is the local one, close to the gradient "
           "norm ‖∂f/∂x‖. JiT's loss ℓ(x) estimates it by Monte Carlo with σ in the role of r. It averages the "
           "slope over random directions, so it stays below the steepest slope (for a linear f in 2-D with one "
           "output, 2/π of it).")
q1, q2 = st.columns(2)
space = q1.radio("Output f", list(geom.SPACES), format_func=geo_views.SPACE_LABELS.get, horizontal=True,
                 key="geometry_space")
estimator = q2.radio("Estimate", list(geom.ESTIMATORS), format_func=geo_views.ESTIMATOR_LABELS.get,
                     horizontal=True, key="geometry_estimator")
qkey = (estimator, space, float(sigma), int(n_samples))


def heat(m):
    return memo("heat", (ws_key, m, qkey), lambda: geom.lipschitz_grid(
        m, bounds, RES, estimator=estimator, space=space, sigma=sigma, n_samples=n_samples, seed=0), keep=8)


Z_before = heat(model)
Z_after = heat(after) if after is not None else None
both = Z_before if Z_after is None else np.concatenate([Z_before.ravel(), Z_after.ravel()])
zmax = max(float(np.percentile(both, 99)), 1e-6)
h1, h2 = st.columns(2)
forget_xy = ws.X[forget_ids] if len(forget_ids) else None
with h1:
    st.plotly_chart(geo_views.lipschitz_figure(Z_before, bounds, zmax=zmax, X=Xtr, y=ytr, forget=forget_xy,
                                               boundary=cls_before, n_classes=k, title="Before JiT"),
                    key="geometry_heat_before", theme=None, width="content")
with h2:
    if Z_after is not None:
        cls_after = memo("classes", (ws_key, after), lambda: geo_state.class_grid(after, bounds, RES_BOUNDARY)[1])
        st.plotly_chart(geo_views.lipschitz_figure(Z_after, bounds, zmax=zmax, X=Xtr, y=ytr, forget=forget_xy,
                                                   boundary=cls_after, n_classes=k, title="After JiT"),
                        key="geometry_heat_after", theme=None, width="content")
    else:
        st.info("Nothing to forget, so there is no after-JiT model.")
st.caption(f"Same colour range in both panels (0 to {zmax:.3g}, the 99th percentile of both; darker green = the "
           f"output changes faster). Dotted: the decision boundary; black crosses: the forget points. The maps use "
           f"one shared set of {n_samples} directions for every grid point and both models, so they are smooth and "
           "comparable. JiT itself evaluates this only at the forget points; the map over the plane is for display.")
if Z_after is not None and st.checkbox("Show the change (after − before)", key="geometry_show_diff"):
    D = Z_after - Z_before
    v = max(float(np.abs(D).max()), 1e-6)
    d1, d2 = st.columns(2)
    d1.plotly_chart(geo_views.lipschitz_figure(D, bounds, zmin=-v, zmax=v, colorscale=geo_views.DIFF_SCALE, X=Xtr,
                                               y=ytr, forget=forget_xy, boundary=cls_after, n_classes=k,
                                               colorbar_title="change", title="After − before"),
                    key="geometry_heat_diff", theme=None, width="content")
    d2.caption("Red: the estimate grew, blue: it shrank. JiT changes shared weights, so the change is not confined "
               "to the forget points: watch how much of it lies near them and how much elsewhere.")
if space == "logits":
    st.caption("In logit space a ReLU network's output keeps growing linearly away from the data, so the "
               "boundary does not stand out here; in probability space it does (probabilities saturate in the "
               "flat regions).")

if after is not None:
    rest = np.setdiff1d(np.arange(len(train_ids)), np.array([pos[int(g)] for g in forget_ids]))
    groups = {"forget points": np.array([pos[int(g)] for g in forget_ids]), "other training points": rest}
    rows = memo("table", (ws_key, model, after, float(sigma)),
                lambda: geom.change_rows(model, after, Xtr, ytr, groups, sigma=sigma))
    table = pd.DataFrame(rows).set_index("points")
    st.dataframe(table.style.format({c: "{:.3g}" for c in table.columns if c != "n"}))
    st.caption("Means over each group (estimates with 200 shared draws at σ). JiT's loss uses logits with the "
               "perturbed branch detached (as the authors' code does): each step pulls f(x) towards the outputs "
               "around it rather than flattening f, so neither estimate need drop. What reliably changes is "
               "the prediction at the forget points: it moves towards what their neighbours say (P(own class) of "
               "memorised points falls), while the other points keep theirs.")

# --- 3. the two gradients at the chosen point -----------------------------------------------------
st.subheader(f"3. Two gradients of the same loss: which one forgets #{chosen}?")
st.caption(
    "JiT's loss ℓ(x) can be differentiated two ways. **Detached** (the authors' code, the library's default): the "
    "outputs at the noisy copies f(x + ξⱼ) are held fixed, so a step moves only f(x), towards those outputs (their "
    "mean, in the table and the plots, is the centre of that pull). **Full** (the paper's ratio read literally): the gradient flows through both "
    "branches, so a step is descent on ℓ(x) itself, the Lipschitz estimate: it flattens f around x. Below, each "
    "runs alone on the chosen point, from the same model, and the model retrained without that point is the "
    "reference. Click another point in the α chart to compare there.")
steps = st.slider("JiT steps on the chosen point", 1, 20, geo_state.GRADIENT_STEPS, key="geometry_grad_steps")
gone = tuple(ws.forgotten.tolist())
with st.spinner(f"Retraining from scratch without #{chosen}..."):
    retrained = memo("retrain", (ws_key, chosen, gone), lambda: geo_state.retrain_without(ws, [chosen]), keep=4)
cmp = memo("gradients", (ws_key, model, chosen, gone, float(sigma), int(n_samples), float(lr), int(steps)),
           lambda: geo_state.compare_gradients(model, ws.X[chosen], int(ws.y[chosen]), retrained, bounds=bounds,
                                               sigma=sigma, n_samples=n_samples, lr=lr, steps=steps,
                                               resolution=RES_BOUNDARY))
st.plotly_chart(geo_views.gradient_steps_figure(cmp), key="geometry_grad_steps_chart", theme=None)
grad_table = pd.DataFrame(geo_views.gradient_rows(cmp)).set_index("model")
st.dataframe(grad_table.style.format({c: "{:.3f}" if c.startswith(("P(", "neighbours' P")) else "{:.3g}"
                                      for c in grad_table.columns if grad_table[c].dtype.kind == "f"}))
own = cmp.label
det, full = cmp.runs["detached"], cmp.runs["full"]
b = cmp.before
st.caption(
    f"JiT on #{chosen} alone (class {own}): {steps} steps, one per pass over the point, σ = {sigma:g}, "
    f"N = {n_samples}, step length {lr:g} (the library's scale-free step: the first step of *each* gradient has "
    f"this length in parameter space, so both move the weights equally far at first). The numbers at x use "
    f"{geo_state.EVAL_SAMPLES} fresh perturbations, the same for every model. The retrained model is trained from "
    f"scratch on the training points without #{chosen}" + (" (and without what the Playground forgot)" if gone else "")
    + f". **Here:** detached took P(own class) at x from {b.probs[own]:.2f} to {det.after.probs[own]:.2f} and "
    f"‖f(x) − neighbours' mean‖ from {b.gap:.2f} to {det.after.gap:.2f}, with ℓ(x) {b.estimate:.3g} → "
    f"{det.after.estimate:.3g}; full took ℓ(x) to {full.after.estimate:.3g} and P(own class) to "
    f"{full.after.probs[own]:.2f}; retrained gives {cmp.retrain.probs[own]:.2f}. Each step draws fresh noise and "
    "moves the weights by a fixed length, so the curves zig-zag; the trend, not a single step, is the message.")
g1, g2, g3 = st.columns(3)
panels = [(g1, "detached", det.shade, det.cls, f"after {steps} detached steps"),
          (g2, "full", full.shade, full.cls, f"after {steps} full steps"),
          (g3, "retrain", cmp.retrain_shade, cmp.retrain_cls, f"retrained without #{chosen}")]
for col, name, shade_g, cls_g, title in panels:
    with col:
        st.plotly_chart(geo_views.boundary_panel(shade_g, cls_g, bounds, X=Xtr, y=ytr, point=ws.X[chosen],
                                                 label=own, n_classes=k, reference=cls_before, title=title),
                        key=f"geometry_grad_{name}", theme=None, width="content")
st.caption("Solid: each model's decision boundary; dotted: the original model's; the star is x, in its label's "
           "colour. Background: the predicted class, paler where the model is less sure. JiT changes shared weights, "
           "so its boundaries can move away from x too; the retrained model starts afresh, so its boundary also "
           "differs far from x.")
st.markdown(
    "**Why one forgets and the other smooths.** The detached step lowers each distance ‖f(x) − f(x + ξⱼ)‖ by moving "
    "f(x) only: it pulls the output at x towards the outputs of its noisy copies. A high-information point sits in "
    "the other class's territory, so most copies are predicted as the other class, and the pull drags x's "
    "prediction across the boundary, as under retraining (on the digits CNN this cost retain accuracy: scripts/jit_gradients.py). ℓ(x) need not fall, since the "
    "copies move with the shared weights. The full step lowers the *ratio* itself, moving f(x) and the f(x + ξⱼ) "
    "towards each other wherever that is cheapest: the estimate falls fast and f flattens around x, without "
    "necessarily changing the predicted class at x (see the table: on some points it does, on others it does "
    "not). A flat model near x is not the same as a model that never saw x.")

# --- 4. the 1-D example ---------------------------------------------------------------------------
st.subheader("4. In one dimension: flat region versus slope")
st.caption("f(x) = sigmoid(w·x), a 1-D 'model'. A point in the flat region: every perturbation gives nearly the same "
           "output, ℓ is small, and smoothing there changes nothing (its label is inferable, so forgetting it "
           "gains little information). A point on the slope: outputs spread, some cross f = 0.5, ℓ is large, and "
           "the detached step pulls f(x) towards its neighbours' values, i.e. towards the boundary.")
s1, s2, s3, s4 = st.columns(4)
w = s1.slider("Weight w", 0.5, 8.0, 3.0, step=0.5, key="geometry_w")
x_flat = s2.slider("Flat point x", -4.0, 4.0, 2.5, step=0.1, key="geometry_x_flat")
x_slope = s3.slider("Slope point x", -4.0, 4.0, 0.1, step=0.1, key="geometry_x_slope")
sigma_1d = s4.slider("σ (1-D)", 0.05, 1.5, 0.5, step=0.05, key="geometry_sigma_1d")
example = geom.sigmoid_example([x_flat, x_slope], w=w, sigma=sigma_1d, n_samples=n_samples, seed=0)
st.plotly_chart(geo_views.sigmoid_figure(example, w=w, sigma=sigma_1d), key="geometry_sigmoid", theme=None)
st.dataframe(pd.DataFrame([{"point": name, "x": e["x"], "f(x)": e["fx"], "|f'(x)|": e["slope"],
                            "JiT estimate ℓ(x)": e["estimate"], "perturbations across f = 0.5": e["crossed"]}
                           for name, e in zip(["flat", "slope"], example)]).set_index("point")
             .style.format("{:.3g}"))
st.caption("Here f is the sigmoid's output (a probability), as in the paper's 1-D figure. JiT's loss uses a network's "
           "logits; for this 1-D logistic model the logit w·x would have the same slope everywhere.")
