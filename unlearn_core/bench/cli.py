"""``python -m unlearn_core.bench``: the command line; parses flags and hands off to the 2-D bench,
the image bench or the sweep. Run on 2-D data, it trains and prints a table:

Per seed: train the original model on the training split, pick the forget set, retrain from
scratch without it (the oracle, always run), apply each method, and evaluate everything on the
same retain / forget / test sets. Prints mean ± std over seeds with the gap to retrain, and
writes JSON rows with --json. ``--sweep`` runs the sweep that chose the default JiT settings
(see ``unlearn_core.bench.sweep``) and refuses every flag it would ignore.

Hyperparameters have one override, ``--set METHOD.NAME=VALUE``; the ``--jit-*`` flags are aliases
of it (``--jit-lr 0.1`` is ``--set jit.lr=0.1``), and a hyperparameter given both ways with
different values is an error.

Exit codes: 0 on success, 2 on bad flags or an impossible setting (one-line message on stderr).
"""
from __future__ import annotations

import argparse
import sys

import torch
from tqdm import tqdm

import toy_data
from unlearn_core import scenarios
from unlearn_core.audit import PROTOCOLS
from unlearn_core.bench.parsing import (FLAG_BOUNDS, OneLineParser, Override, SetAction, SetAlias, bounded,
                                        bounded_list, cap_override, check_output_dir, check_output_file, device_arg,
                                        document_bounds, given_dests, literal_value, shown)
from unlearn_core.bench.engine import add_engine_arguments, engine_refusal
from unlearn_core.bench.run2d import (CSV_DATASET, DEFAULT_2D_METHODS, check_forget_setting, csv_problem,
                                      run_seed)
from unlearn_core.bench.replay import SESSION_SETTING, read_session_file, replay_session, requests_text
from unlearn_core.bench.runimages import audit_note, run_images
from unlearn_core.bench.sweep import DATASETS as SWEEP_DATASETS, SWEEP_FLAGS, run_sweep
from unlearn_core.images.bench import FULL_CLASS_ONLY, IMAGE_DATASETS
from unlearn_core.images.data import check_data_dir
from unlearn_core.images.splits import SETTINGS as IMAGE_SETTINGS
from unlearn_core.images.zoo import ARCHITECTURES
from unlearn_core.methods import METHODS
from unlearn_core.methods.spec import not_applicable
from unlearn_core.models import ACTIVATIONS
from unlearn_core.problem import DATA_DEFAULTS, ModelRecipe, make_problem
from unlearn_core.report import table, write_json

_RECIPE = ModelRecipe()  # the 2-D model and training defaults

#: The JiT flags, each an alias of ``--set jit.NAME=VALUE`` (flag -> NAME): translated to that
#: item and parsed by the same code (``parse_overrides``).
JIT_ALIASES = {"--jit-sigma": "sigma", "--jit-lr": "lr", "--jit-n": "n_samples", "--jit-batch-size": "batch_size",
               "--jit-epochs": "epochs", "--jit-normalize-step": "normalize_step", "--jit-gradient": "gradient",
               "--jit-reproduce-authors": "reproduce_authors"}


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m unlearn_core.bench", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default=DATA_DEFAULTS["dataset"],
                   choices=sorted(toy_data.DATASETS) + [CSV_DATASET] + list(IMAGE_DATASETS),
                   help="a 2-D dataset, csv (your own 2-D points: --data-dir points.csv), or an image dataset "
                        "(digits, cifar10, cifar20, cifar100, folder)")
    d.add_argument("--data-dir", default=None,
                   help="csv: the x,y,label file (the app's format); images: the CIFAR 'python version' archive "
                        "(.tar.gz) or its extracted folder, or the image folder (one subfolder per class)")
    d.add_argument("--session", default=None, metavar="FILE",
                   help="replay a session saved by the app (its 'Session (JSON)' button): its data, original model "
                        "and forget history, each request run again with its recorded hyperparameters, against "
                        "retrains over --seeds; --methods adds other methods on the same forget set")
    d.add_argument("--n-samples", type=bounded("--n-samples"), default=DATA_DEFAULTS["n_samples"])
    d.add_argument("--noise", type=bounded("--noise"), default=None, help="default: the dataset's own")
    d.add_argument("--classes", type=bounded("--classes"), default=None,
                   help="classes (blobs, spirals, gaussian_quantiles)")
    d.add_argument("--data-seed", type=bounded("--data-seed"), default=DATA_DEFAULTS["data_seed"])
    d.add_argument("--test-size", type=bounded("--test-size"), default=DATA_DEFAULTS["test_size"])
    f = p.add_argument_group("what to forget")
    f.add_argument("--setting", default="random",
                   help=f"2-D: one of {', '.join(scenarios.SETTINGS)}; images: full_class, sub_class, random, "
                        "a comma list of them, or all")
    f.add_argument("--target", default=None,
                   help="images: the class to forget (full_class) or the fine class (sub_class), by name or index; "
                        "a comma list runs several (default: the paper's first, or digit 3)")
    f.add_argument("--forget-class", type=bounded("--forget-class"), default=None)
    f.add_argument("--forget-count", type=bounded("--forget-count"), default=None,
                   help="random setting: how many training points (2-D default 20; images: 83 on CIFAR as the "
                        "paper, 2%% of the training set otherwise)")
    f.add_argument("--forget-region", type=bounded("--forget-region"), nargs=4, metavar=("X0", "X1", "Y0", "Y1"), default=None,
                   help="region setting: the box to forget (default: a box around ~10%% of a class)")
    f.add_argument("--forget-indices", type=bounded_list("--forget-indices"), default=None,
                   help="indices into make_dataset's output (csv: the file's data rows, from 0); they are kept in "
                        "the training split")
    f.add_argument("--tau", type=bounded("--tau"), default=0.5, help="high_info: alpha(x) < tau")
    f.add_argument("--radius", type=bounded("--radius"), default=0.3,
                   help="high_info: neighbourhood radius (standardised units)")
    m = p.add_argument_group("model and methods")
    m.add_argument("--hidden", type=bounded_list("--hidden"), default=list(_RECIPE.hidden))
    m.add_argument("--activation", default=_RECIPE.activation, choices=list(ACTIVATIONS))
    m.add_argument("--epochs", type=bounded("--epochs"), default=_RECIPE.epochs)
    m.add_argument("--lr", type=bounded("--lr"), default=_RECIPE.lr)
    m.add_argument("--batch-size", type=bounded("--batch-size"), default=_RECIPE.batch_size)
    m.add_argument("--methods", default=None,
                   help="comma list (default: 2-D jit,retrain,finetune,neggrad_plus,random_label; images: all)")
    m.add_argument("--seeds", type=bounded_list("--seeds"), default=[0, 1, 2])
    m.add_argument("--device", type=device_arg, default="cpu", help="cpu, cuda, cuda:N or auto")
    im = p.add_argument_group("image models and training")
    im.add_argument("--model", default=None, choices=list(ARCHITECTURES),
                    help="architecture (default: smallcnn on digits, vgg11 elsewhere)")
    im.add_argument("--model-factory", default=None, metavar="PACKAGE.MODULE:FACTORY",
                    help="your own model: factory(n_classes=..., in_shape=...) -> nn.Module")
    im.add_argument("--checkpoint", default=None, metavar="PATH",
                    help="start from this trained original (weights only; never an arbitrary pickle)")
    im.add_argument("--train-epochs", type=bounded("--train-epochs"), default=None,
                    help="override the training recipe's epochs")
    im.add_argument("--train-lr", type=bounded("--train-lr"), default=None,
                    help="override the recipe's peak learning rate")
    im.add_argument("--train-batch-size", type=bounded("--train-batch-size"), default=None)
    im.add_argument("--amp", action="store_true", help="CUDA: bf16 autocast for training")
    im.add_argument("--out", default=None, metavar="DIR",
                    help="images: results folder (runs/, models/, table.md, results.csv/json, gap.html); "
                         "rerunning with the same folder resumes (default: results/DATASET-MODEL)")
    im.add_argument("--no-plot", action="store_true", help="images: skip gap.html")
    h = p.add_argument_group("hyperparameter overrides",
                             "--set is the one override; each --jit-* flag is an alias of --set jit.NAME=VALUE")
    h.add_argument("--set", action=SetAction, default=[], metavar="METHOD.NAME=VALUE",
                   help="any hyperparameter, e.g. --set finetune.epochs=5 (repeatable; "
                        "--set jit.normalize_step=off|first|probe)")
    for flag, name in JIT_ALIASES.items():
        param = METHODS["jit"].params[name]
        if param.kind == "bool":
            kw = dict(nargs=0)  # a switch: jit.NAME=True
        elif param.kind == "choice":
            kw = dict(choices=list(param.choices))
        else:
            kw = dict(metavar="X")
        h.add_argument(flag, action=SetAlias, target=f"jit.{name}", dest="set", default=argparse.SUPPRESS,
                       help=f"alias of --set jit.{name}={'True' if param.kind == 'bool' else 'X'}", **kw)
    a = p.add_argument_group("forgetting audit")
    a.add_argument("--audit", type=bounded("--audit"), default=0, metavar="K",
                   help="also audit each seed's forget set with K models per sample: per-example epsilon, F, final "
                        "score, U-LiRA. It trains 2K retrains (K more originals with --audit-protocol originals) and "
                        "K unlearning runs per method: on 2-D data at once as ensembles; on images per cell "
                        "(setting, target, seed) one model after another, or as Ray tasks with --engine ray, so an "
                        "image audit costs about 2K (3K) full trainings + K x methods unlearning runs per cell "
                        "(docs/audit.md)")
    a.add_argument("--audit-protocol", choices=PROTOCOLS, default="challenge",
                   help="where the K unlearned models come from: challenge = one original (the seed's) unlearned "
                        "K times with K seeds, as the NeurIPS 2023 challenge (a deterministic method then has no "
                        "spread and every ε is the cap); originals = K originals unlearned once each")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    o.add_argument("--sweep", action="store_true", help="run the JiT default-picking sweep instead (docs/defaults.md)")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    o.add_argument("--threads", type=bounded("--threads"), default=None,
                   help="torch CPU threads (default: torch's own; 1 is fastest for the small 2-D models)")
    add_engine_arguments(p)
    document_bounds(p)
    return p


def parse_overrides(items: list[Override]) -> dict[str, dict]:
    """``--set`` items (the ``--jit-*`` aliases arrive here as the same items) -> {method: {name: value}}.

    VALUE is a Python literal (``0.1``, ``True``, ``None``) or a bare word (``off``); every value is
    checked against its method's declared parameter here, before anything runs. The same
    hyperparameter given twice the same way: the last one counts; given through an alias and
    through --set with different values: an error naming both.
    """
    over: dict[str, dict] = {}
    given: dict[tuple[str, str], dict[bool, tuple]] = {}
    for item in items:
        key, eq, val = item.text.partition("=")
        meth, dot, name = key.partition(".")
        if not eq or not dot:
            raise ValueError(f"--set expects METHOD.NAME=VALUE, got {shown(item.text, 60)}")
        if len(item.text) > 100:  # no hyperparameter takes a value this long
            raise ValueError(f"{item.flag.split(' ')[0]} {shown(item.text, 60)}: the value is {len(val):,} characters "
                             "long; give a number, True/False or a word")
        if meth not in METHODS:
            raise ValueError(f"{item.flag}: unknown method {meth!r}; choose one of {', '.join(METHODS)}")
        if name not in METHODS[meth].params:
            raise ValueError(f"{item.flag}: {meth} has no hyperparameter {name!r}; "
                             f"it takes {', '.join(sorted(METHODS[meth].params))}")
        try:
            value = METHODS[meth].check({name: literal_value(val)})[name]
        except (ValueError, OverflowError) as err:  # OverflowError: an integer too large for a float
            raise ValueError(f"{item.flag}: {err}") from None
        value = cap_override(item.flag, meth, name, value)
        given.setdefault((meth, name), {})[item.alias] = (value, item.flag)
        over.setdefault(meth, {})[name] = value
    for (meth, name), ways in given.items():
        if len(ways) == 2 and ways[True][0] != ways[False][0]:
            raise ValueError(f"{ways[True][1]} and {ways[False][1]} give {meth}.{name} two different values; "
                             f"give it once")
    return over


def sweep_ignores(parser: argparse.ArgumentParser, args, argv) -> list[str]:
    """The flags on the command line that ``--sweep`` would ignore (it reads only SWEEP_FLAGS)."""
    flags = []
    for dest in given_dests(parser, argv):
        if dest == "set":  # --set and its aliases share one list: name the flags as given
            flags += [item.flag.split(" ")[0] for item in args.set]
        else:  # every other option is one long flag, whose destination argparse derives this way
            flags.append("--" + dest.replace("_", "-"))
    return [f for f in dict.fromkeys(flags) if f not in SWEEP_FLAGS]


def methods_run(args) -> tuple[list[str], tuple[str, ...]]:
    """(the methods named by --methods or the default, the settings run), as the 2-D or image bench
    reads them; ValueError naming the flag for an empty --methods or an unknown method."""
    image = args.dataset in IMAGE_DATASETS
    if args.methods is None:
        methods = list(METHODS) if image else list(DEFAULT_2D_METHODS)
    else:
        methods = list(dict.fromkeys(m.strip() for m in args.methods.split(",") if m.strip()))
        if not methods:
            raise ValueError(f"--methods {args.methods!r} names no method; give a comma list of "
                             f"{', '.join(METHODS)}, or leave --methods out for the default")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"--methods: unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if image:
        settings = IMAGE_SETTINGS if args.setting == "all" else tuple(s.strip() for s in args.setting.split(","))
        bad = [s for s in settings if s not in IMAGE_SETTINGS]
        if bad or not settings:
            raise ValueError(f"--setting {shown(args.setting, 60)}: image settings are {', '.join(IMAGE_SETTINGS)} "
                             f"(a comma list of them, or all), got {', '.join(map(repr, bad)) or 'none'}")
    else:
        settings = (args.setting,)
    return methods, settings


def check_overrides_used(items: list[Override], methods: list[str], settings, image: bool) -> None:
    """Every --set item (and --jit-* alias) sets a method that runs in at least one setting: an
    override that nothing would read is an error, not silently ignored."""
    for item in items:
        meth = item.text.partition(".")[0]
        if meth == "retrain":
            continue  # retrain always runs: it is the reference
        if meth not in methods:
            raise ValueError(f"{item.flag}: {meth} is not among the methods run ({', '.join(methods)}), so the "
                             f"value would be ignored; add {meth} to --methods or drop the override")
        runs = [s for s in settings if not not_applicable(METHODS[meth], s)
                and not (image and meth in FULL_CLASS_ONLY and s != "full_class")]
        if not runs:
            raise ValueError(f"{item.flag}: {meth} does not run in the {', '.join(settings)} setting "
                             f"(it forgets whole classes), so the value would be ignored; drop the override")


#: Flags only one branch reads: given to the other, they are refused rather than silently ignored.
IMAGE_ONLY = ("model", "model_factory", "checkpoint", "train_epochs", "train_lr", "train_batch_size", "amp", "out",
              "no_plot", "target")
TWO_D_ONLY = ("n_samples", "noise", "classes", "data_seed", "test_size", "forget_class", "forget_region",
              "forget_indices", "tau", "radius", "hidden", "activation", "epochs", "lr", "batch_size")


def branch_ignores(args, given) -> str | None:
    """The message for flags that the chosen branch (2-D or image bench) would ignore, or None."""
    image = args.dataset in IMAGE_DATASETS
    flags = [f"--{d.replace('_', '-')}" for d in (TWO_D_ONLY if image else IMAGE_ONLY) if d in given]
    if not flags:
        return None
    if image:
        return (f"{', '.join(flags)}: for the 2-D datasets; --dataset {args.dataset} would ignore "
                f"{'it' if len(flags) == 1 else 'them'} (the image recipe's flags are --train-epochs, --train-lr, "
                "--train-batch-size); drop " + ("it" if len(flags) == 1 else "them"))
    hint = "; the 2-D bench writes its rows with --json" if "--out" in flags else ""
    return (f"{', '.join(flags)}: for the image datasets; --dataset {args.dataset} would ignore "
            f"{'it' if len(flags) == 1 else 'them'}{hint}; drop " + ("it" if len(flags) == 1 else "them"))


def check_inputs(args) -> None:
    """The image data path, checked cheaply (nothing decoded) before any work; errors name --data-dir."""
    if args.dataset in IMAGE_DATASETS and args.data_dir is not None:
        try:
            check_data_dir(args.dataset, args.data_dir)
        except ValueError as err:
            raise ValueError(f"--data-dir {shown(args.data_dir, 80)}: {err}") from None


def check_outputs(args) -> None:
    """--json and --out can be written, checked before any work so that a long run never fails at its end."""
    check_output_file("--json", args.json)
    if args.dataset in IMAGE_DATASETS and not args.sweep:
        check_output_dir("--out", args.out if args.out is not None else "results")


def data_message(args, err: Exception) -> str:
    """A data error from toy_data (which names its own arguments), in the command line's words."""
    text = str(err).replace("keep_in_train", "--forget-indices").replace("classes=", "--classes ")
    return text if text.startswith("--") else f"--dataset {args.dataset}: {text}"


#: The flags a --session replay reads; any other is refused rather than silently ignored.
SESSION_FLAGS = ("session", "seeds", "methods", "set", "device", "threads", "json", "quiet")


def run_session(parser: argparse.ArgumentParser, args, argv) -> int:
    """``--session FILE``: replay a saved app session as a table (``unlearn_core.bench.replay``)."""
    extra = [f"--{d.replace('_', '-')}" for d in given_dests(parser, argv) if d not in SESSION_FLAGS]
    if extra:
        parser.error(f"{', '.join(extra)}: --session replays the session's own data, model and forget history, "
                     f"so {'it' if len(extra) == 1 else 'they'} would be ignored; with --session the bench reads "
                     f"only {', '.join('--' + d for d in SESSION_FLAGS if d != 'session')}")
    try:
        overrides = parse_overrides(args.set)
        methods = methods_run(args)[0] if args.methods is not None else []
        check_overrides_used(args.set, methods, (SESSION_SETTING,), False)
        check_outputs(args)
        doc = read_session_file(args.session)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    extra_runs = len([m for m in methods if m != "retrain"])
    with tqdm(total=len(doc.steps) + len(args.seeds) * (1 + extra_runs), desc="runs", file=sys.stderr, delay=0.5,
              disable=args.quiet) as bar:
        rows, requests = replay_session(doc, seeds=args.seeds, methods=methods, overrides=overrides,
                                        device=args.device, progress=bar)
    print(f"session {shown(args.session, 60)}: {doc.dataset} ({doc.source}), {len(doc.X)} points, "
          f"{rows[0]['n_forget']} forgotten in {len(doc.steps)} request(s); retrain seeds "
          f"{','.join(map(str, args.seeds))}; mean ± std over seeds, (gap to retrain; ± retrain's spread over seeds)")
    print(table(rows))
    print("saved: the app's model after the last request; replayed: the same requests run again here; "
          "forget set: every point forgotten in the session.")
    print(requests_text(requests))
    for m, err in sorted({(r["method"], r["error"]) for r in rows if r.get("error")}):
        print(f"{m} did not run to a usable model: {err}")
    if args.json:
        write_json(args.json, rows)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.session is not None:
        return run_session(parser, args, argv)
    if args.sweep:
        ignored = sweep_ignores(parser, args, argv)
        if ignored:
            reads = ", ".join(f for f in SWEEP_FLAGS if f != "--sweep")
            parser.error(f"--sweep does not use {', '.join(ignored)}: it runs its fixed grid of JiT settings on "
                         f"{', '.join(SWEEP_DATASETS)}; it reads only {reads}")
    if args.audit and args.audit < 4:
        parser.error(f"--audit needs K >= 4 models per sample (64 is the usual figure), got {args.audit}")
    if not args.audit and not args.sweep and "audit_protocol" in given_dests(parser, argv):
        parser.error("--audit-protocol chooses how --audit K builds its models; add --audit K")
    given = set(given_dests(parser, argv))
    if args.dataset == CSV_DATASET:
        if not args.data_dir:
            parser.error("--dataset csv needs --data-dir points.csv: a file with the columns x, y and label")
        unused = [f"--{d.replace('_', '-')}" for d in ("n_samples", "noise", "classes") if d in given]
        if unused:
            parser.error(f"{', '.join(unused)}: --dataset csv takes its points from --data-dir {args.data_dir}; "
                         "drop the flag")
    elif args.dataset not in IMAGE_DATASETS and args.data_dir is not None and not args.sweep:
        parser.error(f"--data-dir is for --dataset csv and the image datasets; --dataset {args.dataset} is generated")
    if not args.sweep and branch_ignores(args, given):
        parser.error(branch_ignores(args, given))
    if args.target is not None and not [t for t in args.target.split(",") if t.strip()]:
        parser.error(f"--target {args.target!r} names no class; give names or indices, or leave --target out for "
                     "the default")
    target_cap = FLAG_BOUNDS["--target"].max_items
    if args.target and len(args.target.split(",")) > target_cap:
        parser.error(f"--target takes at most {target_cap} names or indices, got {len(args.target.split(','))}")
    try:
        overrides = parse_overrides(args.set)
        if not args.sweep:
            methods, settings = methods_run(args)
            check_overrides_used(args.set, methods, settings, args.dataset in IMAGE_DATASETS)
        check_inputs(args)
        check_outputs(args)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.dataset in IMAGE_DATASETS:
        return run_images(args, parser, overrides)
    if args.sweep:
        return run_sweep(args)
    if engine_refusal(args):
        parser.error(engine_refusal(args))
    try:
        if args.setting not in scenarios.SETTINGS:
            raise ValueError(f"--setting {args.setting!r} is not a 2-D setting; choose one of {', '.join(scenarios.SETTINGS)}")
        args.forget_count = 20 if args.forget_count is None else args.forget_count
        try:
            if args.dataset == CSV_DATASET:
                problem = csv_problem(args.data_dir, data_seed=args.data_seed, test_size=args.test_size,
                                      keep_in_train=args.forget_indices)
            else:
                bad = [i for i in args.forget_indices or () if i >= args.n_samples]
                if bad:
                    raise ValueError(f"--forget-indices: {bad[0]} is out of range; --dataset {args.dataset} with "
                                     f"--n-samples {args.n_samples} has points 0..{args.n_samples - 1}")
                problem = make_problem(args.dataset, n_samples=args.n_samples, noise=args.noise,
                                       data_seed=args.data_seed, classes=args.classes, test_size=args.test_size,
                                       keep_in_train=args.forget_indices)
        except ValueError as err:
            raise ValueError(data_message(args, err)) from None
        recipe = ModelRecipe(tuple(args.hidden), args.activation, args.epochs, args.lr, args.batch_size)
        forget_kw = dict(forget_class=args.forget_class, forget_count=args.forget_count,
                         forget_region=args.forget_region, forget_indices=args.forget_indices,
                         tau=args.tau, radius=args.radius)
        # Check the forget selection once before any training (high_info: as far as it goes without a model).
        check_forget_setting(args.setting, problem, args.seeds[0], **forget_kw)
        total = len(args.seeds) * (2 + len([m for m in methods if m != "retrain"]) + (1 if args.audit else 0))
        rows: list[dict] = []
        with tqdm(total=total, desc="runs", file=sys.stderr, delay=0.5, disable=args.quiet) as bar:
            for seed in args.seeds:
                rows += run_seed(problem, recipe, seed, args.setting, methods, overrides, args.device,
                                 progress=bar, audit=args.audit, audit_protocol=args.audit_protocol, **forget_kw)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    counts = sorted({r["n_forget"] for r in rows})
    n_text = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    print(f"{args.dataset}, setting {args.setting}, {n_text} points forgotten, "
          f"seeds {','.join(map(str, args.seeds))}; mean ± std over seeds, (gap to retrain; ± retrain's spread over seeds)")
    print(table(rows))
    print("forget acc and MIA: the target is retrain's value; MIA = entropy-LR attack, share of the "
          "forget set called 'member' (paper's variant).")
    if args.audit:
        print(audit_note(rows, args.audit, args.audit_protocol))
    for m, err in sorted({(r["method"], r["error"]) for r in rows if r.get("error") and not r.get("na")}):
        print(f"{m} did not run to a usable model: {err}")
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
