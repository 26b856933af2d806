"""``python -m unlearn_core.pretrain``: train an image classifier to unlearn from, with checkpoints and resume.

    python -m unlearn_core.pretrain --dataset cifar10 --data-dir ~/data/cifar-10-python.tar.gz \\
        --model vgg11 --out checkpoints/cifar10-vgg11.pt            # Ctrl-C, then the same command resumes

The checkpoint (weights only: tensors and plain containers, loaded with ``weights_only=True``) is
rewritten atomically after every epoch with the optimiser, schedule and generator states, so a
killed run continues where it stopped and ends with the same weights. Give it to the bench with
``python -m unlearn_core.bench --dataset cifar10 --checkpoint PATH``. The recipe defaults are the
bench's (``unlearn_core.images.train.RECIPES``); the test accuracy is printed at the end.

Exit codes: 0 on success, 2 on bad flags or data (one-line message on stderr). Everything is checked
before the first epoch: the flags' bounds (``parsing.PRETRAIN_BOUNDS``, docs/cli.md), the device, that
``--out`` can be written, and that an existing ``--out`` holds this model (same architecture and shapes).
"""
from __future__ import annotations

import argparse
import os
import sys

from tqdm import tqdm

from unlearn_core.bench.parsing import (PRETRAIN_BOUNDS, OneLineParser, bounded, check_output_file, device_arg,
                                        document_bounds)
from unlearn_core.data import resolve_device
from unlearn_core.images.bench import DEFAULT_MODEL, IMAGE_DATASETS, load_variant
from unlearn_core.images.checkpoints import load_checkpoint
from unlearn_core.images.train import recipe_for, train_images
from unlearn_core.images.zoo import ARCHITECTURES, build_from_factory, build_model
from unlearn_core.metrics import accuracy


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m unlearn_core.pretrain", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", required=True, choices=list(IMAGE_DATASETS))
    p.add_argument("--data-dir", default=None, help="CIFAR archive or folder; the image folder for --dataset folder")
    p.add_argument("--labels", default="fine", choices=["fine", "parity"],
                   help="digits: the 10 digits, or parity (the sub_class setting's coarse labels)")
    p.add_argument("--model", default=None, choices=list(ARCHITECTURES))
    p.add_argument("--model-factory", default=None, metavar="PACKAGE.MODULE:FACTORY")
    p.add_argument("--out", required=True, metavar="PATH", help="the checkpoint file to write (and resume from)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue from --out when it exists")
    p.add_argument("--epochs", type=bounded("--epochs", PRETRAIN_BOUNDS), default=None)
    p.add_argument("--lr", type=bounded("--lr", PRETRAIN_BOUNDS), default=None)
    p.add_argument("--batch-size", type=bounded("--batch-size", PRETRAIN_BOUNDS), default=None)
    p.add_argument("--seed", type=bounded("--seed", PRETRAIN_BOUNDS), default=0)
    p.add_argument("--device", type=device_arg, default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--amp", action="store_true", help="CUDA: bf16 autocast")
    p.add_argument("--quiet", action="store_true")
    document_bounds(p, PRETRAIN_BOUNDS)
    return p


def check_existing(path: str, model, arch: str, n_classes: int, in_shape: tuple) -> None:
    """An existing checkpoint at ``--out`` that resume would continue holds this very model: its
    architecture, classes, input shape and every parameter's shape; ValueError naming --out otherwise."""
    try:
        ck = load_checkpoint(path)
    except ValueError as err:  # CheckpointError: unreadable, not weights-only, damaged
        raise ValueError(f"--out {path}: {err}") from None
    meta = ck["meta"] or {}
    saved = dict(architecture=meta.get("architecture"), n_classes=meta.get("n_classes"),
                 in_shape=list(meta["in_shape"]) if meta.get("in_shape") is not None else None)
    want = dict(architecture=arch, n_classes=n_classes, in_shape=list(in_shape))
    differ = [f"{k} {saved[k]!r} (now {want[k]!r})" for k in want if saved[k] is not None and saved[k] != want[k]]
    own, state = model.state_dict(), ck["state_dict"]
    if not differ and (set(own) != set(state) or any(tuple(own[k].shape) != tuple(state[k].shape) for k in own)):
        differ.append("the parameters' names or shapes")
    if differ:
        raise ValueError(f"--out {path} holds a checkpoint of another model: {'; '.join(differ)}; choose another "
                         "--out, or delete the file to start afresh")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_output_file("--out", args.out, example="model.pt")
        setting = "sub_class" if args.labels == "parity" else "full_class"
        if args.labels == "parity" and args.dataset != "digits":
            raise ValueError("--labels parity is for digits; CIFAR-20 is --dataset cifar20")
        loaded = load_variant(args.dataset, setting, args.data_dir)
        arch = args.model or DEFAULT_MODEL[args.dataset]
        recipe = recipe_for(args.dataset, arch, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)
        dev = resolve_device(args.device)
        if dev.type == "cuda":
            recipe.amp, recipe.channels_last = bool(args.amp), True
        d = loaded.data
        in_shape = tuple(loaded.Xtr.shape[1:])
        model = (build_from_factory(args.model_factory, d.n_classes, in_shape, args.seed) if args.model_factory
                 else build_model(arch, d.n_classes, in_shape, seed=args.seed))
        if os.path.exists(args.out) and not args.resume:
            raise ValueError(f"{args.out} exists; pass --resume to continue it or choose another --out")
        if os.path.exists(args.out):
            check_existing(args.out, model, args.model_factory or arch, d.n_classes, in_shape)
        meta = dict(architecture=args.model_factory or arch, dataset=loaded.variant, n_classes=d.n_classes,
                    in_shape=list(in_shape), seed=args.seed, role="original")
        with tqdm(total=recipe.epochs, desc="epochs", file=sys.stderr, disable=args.quiet) as bar:
            def on_epoch(epoch, entry, m):
                bar.n = epoch
                bar.set_postfix_str(f"loss {entry['loss']:.3f} acc {100 * entry['acc']:.1f}%")
                bar.refresh()
            train_images(model, loaded.Xtr, d.y_train, recipe, seed=args.seed, device=dev, checkpoint=args.out,
                         resume=args.resume, checkpoint_meta=meta, callback=on_epoch)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    acc = accuracy(model, loaded.Xte, d.y_test)
    secs = model.fit_history[-1]["seconds"] if model.fit_history else 0.0
    print(f"{loaded.variant} / {args.model_factory or arch}: {recipe.epochs} epochs, test accuracy {100 * acc:.1f}%, "
          f"{secs:.1f} s of training; checkpoint {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
