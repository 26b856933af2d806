"""Playground: train a small classifier on 2-D data, forget points, compare with retraining."""
import pandas as pd
import streamlit as st
import torch

import toy_data
from unlearn_core import METHODS, MLP, evaluate, fit, unlearn
from unlearn_core.bench import choose_forget, make_problem, split
from unlearn_core.metrics import data_bounds
from ui.figures import boundary_figure, loss_figure

torch.set_num_threads(1)  # the models are tiny: one thread is fastest and fair to other sessions

st.title("Forget points, watch the boundary move")
st.caption("What to look for: JiT only sees the model and the points to forget. Compare its boundary (solid) "
           "with the one of a model retrained from scratch without those points (dashed).")

with st.sidebar:
    st.header("Data")
    dataset = st.selectbox("Dataset", list(toy_data.DATASETS))
    info = toy_data.dataset_info(dataset)
    n = st.slider("Points", 100, 1500, 600, step=50)
    noise = st.slider("Noise", 0.0, float(info.max_noise), float(info.default_noise))
    classes = st.slider("Classes", info.min_classes, info.max_classes, info.default_classes) if info.takes_classes else None
    seed = st.number_input("Seed", 0, 10_000, 0)
    st.header("Forget")
    setting = st.selectbox("What to forget", ["high_info", "random", "full_class", "region"],
                           format_func=lambda s: {"high_info": "high-information points", "random": "random points",
                                                  "full_class": "a whole class", "region": "a region at a class edge"}[s])
    count = st.slider("Random points", 1, 100, 20) if setting == "random" else 20
    cls = st.number_input("Class", 0, 7, 0) if setting in ("full_class", "region") else None
    method = st.selectbox("Method", list(METHODS), format_func=lambda m: f"{m} ({METHODS[m].needs})")


@st.cache_resource(max_entries=8, show_spinner="Training the original model...")
def trained(dataset, n, noise, classes, seed):
    problem = make_problem(dataset, n_samples=n, noise=noise, data_seed=seed, classes=classes)
    model = MLP(2, problem.n_classes, seed=seed)
    fit(model, problem.X_train, problem.y_train, seed=seed, device="cpu")
    return problem, model


try:
    problem, original = trained(dataset, n, noise, classes, int(seed))
    rows = choose_forget(setting, problem, original, int(seed), forget_class=cls, forget_count=count)
    forget, retain = split(problem, rows)
except ValueError as err:
    st.error(str(err))
    st.stop()

st.write(f"**{len(rows)}** training points selected to forget.")
if st.button("Forget", type="primary"):
    bar = st.progress(0.0, text="Unlearning...")
    jit_hp = METHODS["jit"].defaults()
    total_steps = jit_hp["epochs"] * -(-len(rows) // jit_hp["batch_size"])

    def on_step(step, loss, model):
        bar.progress(min(1.0, step / total_steps), text=f"step {step} of {total_steps}, loss {loss:.3g}")

    res = unlearn(method, original, forget=forget, retain=retain, device="cpu", callback=on_step if method == "jit" else None)
    ref = unlearn("retrain", original, forget=forget, retain=retain, device="cpu") if method != "retrain" else res
    bar.empty()
    st.session_state["result"] = dict(key=(dataset, n, noise, classes, int(seed), setting, method, tuple(rows)),
                                      res=res, ref=ref)

out = st.session_state.get("result")
bounds = data_bounds(problem.X)
Xtr, ytr = problem.X_train, problem.y_train
cols = st.columns(3)
cols[0].plotly_chart(boundary_figure(original, Xtr, ytr, bounds, forget_ids=rows, title="Original"), theme=None)
if out and out["key"] == (dataset, n, noise, classes, int(seed), setting, method, tuple(rows)):
    res, ref = out["res"], out["ref"]
    cols[1].plotly_chart(boundary_figure(res.model, Xtr, ytr, bounds, forget_ids=rows, ghost=ref.model,
                                         title=f"After {method} (dashed: retrained)"), theme=None)
    cols[2].plotly_chart(boundary_figure(ref.model, Xtr, ytr, bounds, forget_ids=rows, title="Retrained from scratch"),
                         theme=None)
    table = {}
    for name, model in [("original", original), (method, res.model), ("retrain", ref.model)]:
        m = evaluate(model, retain=retain, forget=forget, test=problem.test, reference=ref.model, bounds=bounds)
        table[name] = {"forget acc %": 100 * m["acc_forget"], "retain acc %": 100 * m["acc_retain"],
                       "test acc %": 100 * m["acc_test"], "entropy MIA %": 100 * m["mia"],
                       "boundary disagreement with retrain %": 100 * m["boundary_disagreement"]}
    table["original"]["method seconds"] = float("nan")
    table[method]["method seconds"] = res.seconds
    table["retrain"]["method seconds"] = ref.seconds
    st.dataframe(pd.DataFrame(table).T.style.format("{:.3g}", na_rep=""))
    st.caption("Forget accuracy and MIA: the target is the retrained model's value. MIA = share of the forget set an "
               "entropy-based attack calls 'member' (the paper's variant).")
    if res.history:
        st.plotly_chart(loss_figure(res.history, title=f"{method}: loss per optimiser step"), theme=None)
else:
    cols[1].info("Press **Forget** to unlearn the crossed points.")
