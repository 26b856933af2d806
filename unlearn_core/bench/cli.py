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
from unlearn_core.audit import EPSILON_CAP, PROTOCOLS
from unlearn_core.bench.parsing import (OneLineParser, Override, SetAction, SetAlias, given_dests, int_list,
                                        literal_value)
from unlearn_core.bench.run2d import DEFAULT_2D_METHODS, run_seed
from unlearn_core.bench.runimages import run_images
from unlearn_core.bench.sweep import DATASETS as SWEEP_DATASETS, SWEEP_FLAGS, run_sweep
from unlearn_core.images.bench import IMAGE_DATASETS
from unlearn_core.images.zoo import ARCHITECTURES
from unlearn_core.methods import METHODS
from unlearn_core.models import ACTIVATIONS
from unlearn_core.problem import DATA_DEFAULTS, ModelRecipe, choose_forget, make_problem, split
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
    d.add_argument("--dataset", default=DATA_DEFAULTS["dataset"], choices=sorted(toy_data.DATASETS) + list(IMAGE_DATASETS),
                   help="a 2-D dataset, or an image dataset (digits, cifar10, cifar20, cifar100, folder)")
    d.add_argument("--data-dir", default=None,
                   help="images: the CIFAR 'python version' archive (.tar.gz) or its extracted folder, or the image "
                        "folder (one subfolder per class)")
    d.add_argument("--n-samples", type=int, default=DATA_DEFAULTS["n_samples"])
    d.add_argument("--noise", type=float, default=None, help="default: the dataset's own")
    d.add_argument("--classes", type=int, default=None, help="classes (blobs, spirals, gaussian_quantiles)")
    d.add_argument("--data-seed", type=int, default=DATA_DEFAULTS["data_seed"])
    d.add_argument("--test-size", type=float, default=DATA_DEFAULTS["test_size"])
    f = p.add_argument_group("what to forget")
    f.add_argument("--setting", default="random",
                   help=f"2-D: one of {', '.join(scenarios.SETTINGS)}; images: full_class, sub_class, random, "
                        "a comma list of them, or all")
    f.add_argument("--target", default=None,
                   help="images: the class to forget (full_class) or the fine class (sub_class), by name or index; "
                        "a comma list runs several (default: the paper's first, or digit 3)")
    f.add_argument("--forget-class", type=int, default=None)
    f.add_argument("--forget-count", type=int, default=None,
                   help="random setting: how many training points (2-D default 20; images: 83 on CIFAR as the "
                        "paper, 2%% of the training set otherwise)")
    f.add_argument("--forget-region", type=float, nargs=4, metavar=("X0", "X1", "Y0", "Y1"), default=None,
                   help="region setting: the box to forget (default: a box around ~10%% of a class)")
    f.add_argument("--forget-indices", type=int_list, default=None,
                   help="indices into make_dataset's output; they are kept in the training split")
    f.add_argument("--tau", type=float, default=0.5, help="high_info: alpha(x) < tau")
    f.add_argument("--radius", type=float, default=0.3, help="high_info: neighbourhood radius (standardised units)")
    m = p.add_argument_group("model and methods")
    m.add_argument("--hidden", type=int_list, default=list(_RECIPE.hidden))
    m.add_argument("--activation", default=_RECIPE.activation, choices=list(ACTIVATIONS))
    m.add_argument("--epochs", type=int, default=_RECIPE.epochs)
    m.add_argument("--lr", type=float, default=_RECIPE.lr)
    m.add_argument("--batch-size", type=int, default=_RECIPE.batch_size)
    m.add_argument("--methods", default=None,
                   help="comma list (default: 2-D jit,retrain,finetune,neggrad_plus,random_label; images: all)")
    m.add_argument("--seeds", type=int_list, default=[0, 1, 2])
    m.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    im = p.add_argument_group("image models and training")
    im.add_argument("--model", default=None, choices=list(ARCHITECTURES),
                    help="architecture (default: smallcnn on digits, vgg11 elsewhere)")
    im.add_argument("--model-factory", default=None, metavar="PACKAGE.MODULE:FACTORY",
                    help="your own model: factory(n_classes=..., in_shape=...) -> nn.Module")
    im.add_argument("--checkpoint", default=None, metavar="PATH",
                    help="start from this trained original (weights only; never an arbitrary pickle)")
    im.add_argument("--train-epochs", type=int, default=None, help="override the training recipe's epochs")
    im.add_argument("--train-lr", type=float, default=None, help="override the recipe's peak learning rate")
    im.add_argument("--train-batch-size", type=int, default=None)
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
    a.add_argument("--audit", type=int, default=0, metavar="K",
                   help="also audit each seed's forget set with K models per sample (2K retrains, K unlearned per "
                        "method, trained at once): per-example epsilon, F, final score, U-LiRA")
    a.add_argument("--audit-protocol", choices=PROTOCOLS, default="challenge",
                   help="where the K unlearned models come from: challenge = one original (the seed's) unlearned "
                        "K times with K seeds, as the NeurIPS 2023 challenge (a deterministic method then has no "
                        "spread and every ε is the cap); originals = K originals unlearned once each")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    o.add_argument("--sweep", action="store_true", help="run the JiT default-picking sweep instead (docs/defaults.md)")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    o.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own; 1 is fastest for the small 2-D models)")
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
            raise ValueError(f"--set expects METHOD.NAME=VALUE, got {item.text!r}")
        if meth not in METHODS:
            raise ValueError(f"{item.flag}: unknown method {meth!r}; choose one of {', '.join(METHODS)}")
        if name not in METHODS[meth].params:
            raise ValueError(f"{item.flag}: {meth} has no hyperparameter {name!r}; "
                             f"it takes {', '.join(sorted(METHODS[meth].params))}")
        try:
            value = METHODS[meth].check({name: literal_value(val)})[name]
        except ValueError as err:
            raise ValueError(f"{item.flag}: {err}") from None
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


def audit_note(rows: list[dict], K: int, protocol: str) -> str:
    """The lines under the table that say how the audit was run and how to read its columns, naming
    the rows whose K models had no spread (their ε is the cap by construction, not a measurement)."""
    how = {"challenge": f"protocol challenge (NeurIPS 2023): one original per seed, unlearned {K} times with "
                        f"{K} seeds, against {K} retrains",
           "originals": f"protocol originals: {K} originals per seed, each unlearned once, against {K} retrains"}
    lines = [f"audit with K={K} models per sample, {how[protocol]}: F = mean challenge points over the forget set "
             f"(1 = indistinguishable from retraining; with K models even a second set of retrained models, the "
             f"retrain row, scores only about this floor); final = F x retain-acc ratio x test-acc ratio; "
             f"ε = per-example epsilon (0 ideal, cap {EPSILON_CAP:g}); U-LiRA = likelihood-ratio attack accuracy "
             f"(0.5 ideal); the original row is the ceiling (no unlearning)."]
    flat = list(dict.fromkeys(r["method"] for r in rows if r.get("audit_no_spread")))
    if flat:
        why = ("under the challenge protocol a deterministic method (and the ceiling, K copies of one model) gives "
               "K identical models" if protocol == "challenge" else "the K models were identical")
        lines.append(f"no spread: {', '.join(flat)}: {why}, so every point's ε is the cap {EPSILON_CAP:g} by the "
                     f"spread rule and F is 0 by construction, not a measurement of forgetting"
                     + ("; --audit-protocol originals measures them against the spread of training."
                        if protocol == "challenge" else "."))
    capped = {}
    for r in rows:
        if r.get("audit_spread_capped") and not r.get("audit_no_spread"):
            c = capped.setdefault(r["method"], [0, 0])
            c[0] += int(r["audit_spread_capped"])
            c[1] += int(r["n_forget"])
    if capped:
        lines.append("spread rule: " + "; ".join(f"{m} {a} of {b} forget points" for m, (a, b) in capped.items())
                     + f" at ε = {EPSILON_CAP:g} because one sample's spread over the K models is under 1% of the "
                       "other's (the challenge's rule: models that barely vary are told apart outright).")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sweep:
        ignored = sweep_ignores(parser, args, argv)
        if ignored:
            reads = ", ".join(f for f in SWEEP_FLAGS if f != "--sweep")
            parser.error(f"--sweep does not use {', '.join(ignored)}: it runs its fixed grid of JiT settings on "
                         f"{', '.join(SWEEP_DATASETS)}; it reads only {reads}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    if args.dataset in IMAGE_DATASETS and args.audit:
        parser.error("--audit runs on 2-D datasets (the ensembles are trained at once on the CPU); "
                     "not on image datasets yet")
    if not args.audit and not args.sweep and "audit_protocol" in given_dests(parser, argv):
        parser.error("--audit-protocol chooses how --audit K builds its models; add --audit K")
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if args.dataset in IMAGE_DATASETS:
        return run_images(args, parser, overrides)
    if args.sweep:
        return run_sweep(args)
    try:
        if args.setting not in scenarios.SETTINGS:
            raise ValueError(f"--setting {args.setting!r} is not a 2-D setting; choose one of {', '.join(scenarios.SETTINGS)}")
        args.forget_count = 20 if args.forget_count is None else args.forget_count
        methods = [m.strip() for m in (args.methods or ",".join(DEFAULT_2D_METHODS)).split(",") if m.strip()]
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}")
        problem = make_problem(args.dataset, n_samples=args.n_samples, noise=args.noise, data_seed=args.data_seed,
                               classes=args.classes, test_size=args.test_size, keep_in_train=args.forget_indices)
        recipe = ModelRecipe(tuple(args.hidden), args.activation, args.epochs, args.lr, args.batch_size)
        forget_kw = dict(forget_class=args.forget_class, forget_count=args.forget_count,
                         forget_region=args.forget_region, forget_indices=args.forget_indices,
                         tau=args.tau, radius=args.radius)
        # Check the forget selection once before any training where it needs no model.
        if args.setting != "high_info":
            split(problem, choose_forget(args.setting, problem, None, args.seeds[0], **forget_kw))
        if args.audit and args.audit < 4:
            raise ValueError(f"--audit needs K >= 4 models per sample (64 is the usual figure), got {args.audit}")
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
          f"seeds {','.join(map(str, args.seeds))}; mean ± std over seeds, (gap to retrain)")
    print(table(rows))
    print("forget acc and MIA: the target is retrain's value; MIA = entropy-LR attack, share of the "
          "forget set called 'member' (paper's variant).")
    if args.audit:
        print(audit_note(rows, args.audit, args.audit_protocol))
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
