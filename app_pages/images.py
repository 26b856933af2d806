"""Images: the paper's image benchmarks (digits on the CPU in seconds), or a results.json from the CLI."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # `streamlit run app_pages/images.py` on its own puts only app_pages/ on the path
    sys.path.insert(0, ROOT)

import streamlit as st
import torch

from app_pages.common import keep_latest
from ui.state import images as im
from ui.views import images as draw
from unlearn_core import METHODS
from unlearn_core.images.bench import DEFAULT_MODEL, BenchProgress, run_benchmark

torch.set_num_threads(1)  # fair to other sessions; the digits model is small
ss = st.session_state

RESULTS = "images_results"  # session key: {config_key: BenchResult}, the last few runs
MAX_KEPT = 3
KEPT_STYLE = "background-color: #dbe9f6"  # a cell whose prediction is still the image's true label

st.title("Unlearning on images")
st.markdown(
    "**What to look for.** The paper's benchmark on real images: train an original model, retrain one from "
    "scratch without the forget set (the reference), and let each method forget. A good method lands **near "
    "retrain's numbers**: forget accuracy and both MIAs should move *to retrain's value*, not to 0, while retain "
    "and test accuracy hold. Digits (8x8, bundled) run in seconds on a CPU; CIFAR needs a GPU: run the CLI there "
    "and open its `results.json` in the second tab. This page runs the same code as the CLI "
    "(`python -m unlearn_core.bench --dataset digits ...`); the equivalent command is shown below the controls.")


def show_results(rows: list[dict], prefix: str) -> None:
    """Tables (one per setting and target), errors, findings and the gap plot."""
    for i, (setting, target) in enumerate(im.groups(rows)):
        st.markdown(f"**{im.group_caption(rows, setting, target)}**")
        st.table(im.results_table(rows, setting, target))
    st.caption(
        "↑ higher is better, ↓ lower is better, **(→ retrain): the target is the retrained model's value, "
        "not 0** "
        "(forget accuracy and both MIAs). Cells: mean ± std over seeds, in brackets the gap to retrain (model − "
        "retrain, percentage points). Entropy MIA: share of the forget images an entropy-based attack calls "
        "'member' (the paper's). Loss MIA: accuracy of a loss-based attack telling forget images from test images "
        "(NeurIPS 2023 kit; 50% = indistinguishable). JS: Jensen-Shannon divergence from the retrained model's "
        "predictions on the forget images. Seconds: the method alone, evaluation excluded; retrain's is its "
        "training time. Mean |gap|: the mean over the five bracketed gaps (the bars below).")
    errors = im.error_lines(rows)
    if errors:
        st.markdown("**Not run or failed**\n\n" + "\n".join(f"- {e}" for e in errors))
    notes = im.findings(rows)
    if notes:
        st.markdown("**What this run shows**\n\n" + "\n".join(f"- {n}" for n in notes))
    st.plotly_chart(draw.gap_figure(rows), theme=None, key=f"images_{prefix}_gaps")


def show_samples(result) -> None:
    st.subheader("Forget images, before and after")
    jobs = result.jobs
    pick = 0
    if len(jobs) > 1:
        pick = st.selectbox("Forget set", range(len(jobs)), format_func=lambda i: im.job_label(jobs[i]),
                            key="images_job")
    job = jobs[pick]
    models = result.models.get(im.job_key(job), {})
    if "original" not in models:
        st.info("No models were kept for this run.")
        return
    view = im.sample_view(job, models)
    table = draw.sample_table(view)
    kept = view.kept_counts()
    n = len(view.rows)
    short = max(len(c) for c in view.class_names) <= 6  # digits, even/odd: narrow columns fit
    width = "small" if short else "medium"
    config = {"image": st.column_config.ImageColumn("image", width="small"),
              "true label": st.column_config.TextColumn("true", width=width)}
    config.update({m: st.column_config.TextColumn(f"{m} {kept[m]}/{n}", width=width,
                                                  help=f"{m}'s prediction (confidence); it still predicts the true "
                                                       f"label on {kept[m]} of these {n} images")
                   for m in view.models})
    row_height = 64
    st.dataframe(table.style.apply(lambda df: draw.sample_styles(view, df, KEPT_STYLE), axis=None),
                 column_config=config,
                 column_order=["image", "true label", *view.models], hide_index=True, row_height=row_height,
                 height=row_height * n + 40, key="images_samples")
    what = ("its fine class, then the coarse label the model predicts" if view.fine is not None
            else "the true label")
    st.caption(
        f"{n} of the {len(job.split.forget_train)} forget images (evenly spread over the training rows; true: {what}). "
        f"Each model column: its prediction and confidence, and in its header on how many of the {n} it still "
        f"predicts the true label; **shaded: still the true label**. Retrain "
        "never trained on these images, so its column shows what a model that truly never saw them predicts; a "
        "method should look like that column, which is not always 'wrong everywhere' (in the sub-class and "
        "random settings retrain still gets many right).")


def run_section() -> None:
    c1, c2, c3 = st.columns([1.3, 1.3, 1])
    dataset = c1.selectbox("Dataset", im.DATASETS, format_func=im.DATASET_LABELS.get, key="images_dataset")
    model = c2.selectbox("Model", im.MODELS, index=im.MODELS.index(DEFAULT_MODEL[dataset]),
                         format_func=lambda m: im.MODEL_LABELS.get(m, m), key=f"images_model_{dataset}",
                         help="smallcnn is the digits model; resnet18, vgg11 (the paper's) and the small ViT are "
                              "CIFAR-size models that need a GPU to be practical.")
    cuda = torch.cuda.is_available()
    if cuda:
        device = c3.radio("Device", ["cpu", "cuda"], index=0 if dataset == "digits" else 1, horizontal=True,
                          key=f"images_device_{dataset}")
    else:
        device = "cpu"
        c3.markdown("**Device**")
        c3.caption("CPU (no CUDA GPU on this machine).")

    data_dir, path_error = None, None
    if dataset in im.NEEDS_PATH:
        data_dir = st.text_input("Data path", key="images_data_dir",
                                 placeholder="cifar-100-python.tar.gz" if dataset in im.CIFAR else "faces",
                                 help=f"{im.DATA_PATH_HELP[dataset]}; relative to the data folder")
        st.caption(f"Data path: {im.DATA_PATH_HELP[dataset]}. The app reads only from its data folder "
                   f"({im.data_root_text()}; the server's {im.DATA_ROOT_ENV} sets it): give the path relative to it. "
                   f"The CLI takes any path.")
        try:
            im.check_data_path(dataset, data_dir)
        except ValueError as err:
            path_error = str(err)
            st.error(path_error)
    if model != "smallcnn" and device == "cpu":
        st.warning(f"{model} on a CPU is slow (hours for CIFAR): it is listed for completeness. Run the CLI on a "
                   "GPU machine and open its results.json in the other tab.")

    settings = list(im.settings_for(dataset))
    setting = st.radio("Setting", settings, format_func=im.SETTING_LABELS.get, horizontal=True,
                       captions=[im.SETTING_HELP[s] for s in settings], key=f"images_setting_{dataset}")
    if dataset == "digits" and setting == "sub_class":
        st.caption("Digits sub-class uses parity labels: the model predicts even / odd and forgets one digit, "
                   "while the other digits of the same parity keep the class alive.")

    target, count = None, None
    if setting == "random":
        count = int(st.number_input("Random training images to forget", 1, 100_000,
                                    im.default_forget_count(dataset), key=f"images_count_{dataset}",
                                    help=f"{im.forget_count_help()} Drawn anew for each seed."))
    elif path_error is None:
        try:
            targets = im.targets_for(dataset, setting, data_dir)
        except ValueError as err:
            st.error(str(err))
            return
        what = {"full_class": "Class to forget", "sub_class": "Fine class to forget"}[setting]
        if dataset == "digits":
            what = "Digit to forget"
        default = im.default_target(dataset, setting, targets)
        target = st.selectbox(what, targets, index=targets.index(default),
                              format_func=lambda t: im.target_label(dataset, setting, t),
                              key=f"images_target_{dataset}_{setting}",
                              help="The paper's targets come first (CIFAR)." if dataset in im.CIFAR else None)

    methods = st.multiselect(
        "Methods (retraining from scratch always runs: it is the reference)", im.CHOICES,
        default=list(im.DEFAULT_METHODS), format_func=im.method_label, key="images_methods",
        help="\n\n".join(f"**{m}**: {METHODS[m].summary}" for m in im.CHOICES)
             + "\n\nEMMN and GKT are full-class methods: in the other settings they are listed as not run. On digits "
               "they take 15-30 s each.")
    n_seeds = st.radio("Seeds", [1, 2, 3], horizontal=True, key="images_seeds",
                       help="Seeds 0, 1, ...: each seed trains its own original and retrained model and draws its "
                            "own random forget set; the table shows mean ± std over them.")
    with st.expander("Advanced: training"):
        default_epochs = im.recipe_epochs(dataset, model)
        epochs = int(st.number_input("Training epochs (original and retrained model)", 1, 1000, default_epochs,
                                     key=f"images_epochs_{dataset}_{model}",
                                     help=f"The recipe's default is {default_epochs}."))
        st.caption(f"The recipe: {im.recipe_text(dataset, model)}, the same for the "
                   f"original and the retrained model (default {default_epochs} epochs here). On digits fewer than "
                   f"about 15 epochs leave the model undertrained.")

    if path_error is not None:
        return
    try:
        cfg = im.make_config(dataset=dataset, data_dir=data_dir, model=model, setting=setting, target=target,
                             forget_count=count, methods=methods, n_seeds=int(n_seeds), device=device,
                             train_epochs=epochs, cuda_available=cuda)
    except ValueError as err:
        st.error(str(err))
        return

    est = im.estimate_seconds(cfg)
    n_runs = len(cfg.seeds) * (2 + len(cfg.methods))
    timing = (f"about {est:.0f} s on one CPU thread" if est is not None else
              "minutes to hours depending on the GPU (CIFAR trains for 25-50 epochs)")
    st.caption(f"{n_runs} runs ({len(cfg.seeds)} seed{'s' if len(cfg.seeds) > 1 else ''} × original, retrain and "
               f"{len(cfg.methods)} method{'s' if len(cfg.methods) > 1 else ''}): {timing}. The same run from a "
               f"terminal (it writes results.json, which the other tab opens):")
    st.code(im.cli_command(cfg), language="bash")

    key = im.config_key(cfg)
    store = ss.setdefault(RESULTS, {})
    run = st.button("Run", type="primary", key="images_run")
    if run and key not in store:
        bar = st.progress(0.0, text="Loading the data...")

        def on_progress(event: BenchProgress) -> None:
            bar.progress(im.progress_fraction(event.done, event.total), text=im.progress_text(event))

        try:
            result = run_benchmark(cfg, progress=on_progress, keep_models=True)
        except (ValueError, RuntimeError) as err:
            bar.empty()
            st.error(f"The benchmark could not run: {err}")
            return
        bar.empty()
        keep_latest(store, key, result, MAX_KEPT)

    result = store.get(key)
    if result is None:
        st.info("Press **Run** to train the original and the retrained model and run each method.")
        return
    st.subheader("Results")
    show_results(result.rows, "run")
    st.download_button("Download results.json", im.rows_json(result.rows), file_name="results.json",
                       mime="application/json", key="images_download",
                       help="The same rows the CLI writes; open them again in the other tab.")
    show_samples(result)


def file_section() -> None:
    st.markdown("Open the `results.json` that `python -m unlearn_core.bench --dataset cifar20 ... --out DIR` "
                "writes in `DIR` (for example a long GPU run) to see its table and gap plot here.")
    up = st.file_uploader("Results file (results.json)", type=["json"], key="images_upload")
    if up is None:
        st.info("No file yet. JSON only: the file is parsed as data, never run.")
        return
    try:
        rows = im.load_results(up.getvalue())
    except ValueError as err:
        st.error(f"Cannot read {up.name}: {err}")
        return
    for w in im.file_warnings(rows):
        st.warning(w)
    show_results(rows, "file")
    st.caption("No image grid for a file: it holds numbers, not models.")


run_tab, file_tab = st.tabs(["Run a benchmark", "View a results file"])
with run_tab:
    run_section()
with file_tab:
    file_section()
