"""How the digits (SmallCNN) JiT defaults were chosen: a grid over sigma, lr and the forget batch size.

For each image setting (full_class digit 3, sub_class digit 3 on parity labels, random 2%), seed 0:
train the original and the retrained oracle once (the bench's recipe), run JiT for every grid point,
and score it by the mean absolute gap to retrain over forget, retain and test accuracy (percentage
points; lower is closer to retraining). Prints the best ten per setting. Not a speed benchmark.

    python scripts/digits_jit_sweep.py            # about two minutes on 2 CPU cores
"""
from __future__ import annotations

import itertools
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from unlearn_core import unlearn  # noqa: E402
from unlearn_core.images.bench import DEFAULT_TARGET, evaluate_images, load_variant, trained_model  # noqa: E402
from unlearn_core.images.splits import make_split  # noqa: E402
from unlearn_core.images.train import recipe_for  # noqa: E402
from unlearn_core.methods import DEFAULTS  # noqa: E402

SIGMAS = (0.1, 0.5, 1.0, 2.0)
LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
BATCHES = ((128, "sum"), (32, "sum"), (8, "mean"))


def main() -> int:
    torch.set_num_threads(2)
    keys = ("acc_forget", "acc_retain", "acc_test")
    for setting in ("full_class", "sub_class", "random"):
        loaded = load_variant("digits", setting, None)
        split = make_split(loaded.data, setting, DEFAULT_TARGET.get(("digits", setting)), seed=0)
        recipe = recipe_for("digits", "smallcnn")
        original = trained_model(loaded, "smallcnn", recipe, 0, "cpu", None)
        retrained = trained_model(loaded, "smallcnn", recipe, 0, "cpu", None, retain_idx=split.retain_train,
                                  tag="retrain")
        ref = evaluate_images(retrained, loaded, split)
        base = evaluate_images(original, loaded, split)
        ft = torch.as_tensor(split.forget_train)
        forget = (loaded.Xtr[ft], loaded.data.y_train[ft])
        results = []
        for sigma, lr, (batch, red) in itertools.product(SIGMAS, LRS, BATCHES):
            hp = dict(DEFAULTS[f"smallcnn/{setting}"]["jit"], sigma=sigma, lr=lr, batch_size=batch, reduction=red)
            res = unlearn("jit", original, forget=forget, device="cpu", profile=f"smallcnn/{setting}", **hp)
            m = evaluate_images(res.model, loaded, split)
            if "error" in m:
                continue
            gap = sum(abs(m[k] - ref[k]) for k in keys) / len(keys) * 100
            results.append((gap, sigma, lr, batch, red, m))
        results.sort(key=lambda r: r[0])
        print(f"\n## {setting}: retrain forget/retain/test {100 * ref['acc_forget']:.1f}/{100 * ref['acc_retain']:.1f}/"
              f"{100 * ref['acc_test']:.1f}; original {100 * base['acc_forget']:.1f}/{100 * base['acc_retain']:.1f}/"
              f"{100 * base['acc_test']:.1f} (gap {sum(abs(base[k] - ref[k]) for k in keys) / 3 * 100:.1f})")
        print("| mean gap (pp) | sigma | lr | batch | reduction | forget | retain | test |\n|---:|---:|---:|---:|---|---:|---:|---:|")
        for gap, sigma, lr, batch, red, m in results[:10]:
            print(f"| {gap:.1f} | {sigma} | {lr:g} | {batch} | {red} | {100 * m['acc_forget']:.1f} | "
                  f"{100 * m['acc_retain']:.1f} | {100 * m['acc_test']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
