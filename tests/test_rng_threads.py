"""Randomness is explicit (docs DESIGN: app sessions are threads of one process).

- The same seed gives the same result in 8 threads at once as in a solo run, while another thread keeps
  re-seeding and drawing from torch's and numpy's global generators: model construction, ``reinitialize``,
  ``fit``, an unlearning run (JiT, and a dropout model fine-tuned in train mode), and a preset's forget set.
- Seeded runs never draw from torch's global generator (``models.no_global_draws`` refuses any such draw).
- No library module seeds or draws from a process-wide generator: a source scan, checked on planted violations.
"""
from __future__ import annotations

import ast
import copy
import pathlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

import toy_data
from conftest import state_equal
from ui.state.presets import PRESETS
from ui.state.workspace import ModelConfig, new_workspace
from unlearn_core import MLP, SmallCNN, fit, reinitialize, unlearn
from unlearn_core.images.train import train_images
from unlearn_core.images.zoo import build_model
from unlearn_core.methods import METHODS
from unlearn_core.models import Dropout, GlobalDrawError, dropout_rng, no_global_draws

ROOT = pathlib.Path(__file__).resolve().parents[1]
THREADS = 8


# --- running the same thing in threads ------------------------------------------------------------------------

def in_threads(fn, n: int = THREADS) -> list:
    """``fn()`` in ``n`` threads started together, while one more thread hammers the global generators."""
    start = threading.Barrier(n + 1)
    stop = threading.Event()

    def polluter():
        start.wait()
        i = 0
        while not stop.is_set():        # what a careless neighbour (or the old library) does
            torch.manual_seed(i)
            torch.rand(64)
            np.random.seed(i % 2 ** 32)
            np.random.rand(8)
            i += 1

    def job():
        start.wait()
        return fn()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)         # switch threads often, as a loaded server does
    noise = threading.Thread(target=polluter, daemon=True)
    noise.start()
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(job) for _ in range(n)]
            return [f.result(timeout=600) for f in futures]
    finally:
        stop.set()
        noise.join()
        sys.setswitchinterval(interval)


def all_state_equal(solo: torch.nn.Module, threaded: list[torch.nn.Module]) -> bool:
    return all(state_equal(solo, m) for m in threaded)


@pytest.fixture(scope="module")
def moons_small():
    X, y = toy_data.make_dataset("moons", n_samples=200, noise=0.2, seed=0)
    return X, y


def test_construction_and_reinitialize_match_a_solo_run():
    def build():
        built = [MLP(2, 3, (16, 16), seed=0), SmallCNN(width=4, seed=0),
                 build_model("vgg11", 10, (1, 8, 8), seed=0, width=4),
                 build_model("vit", 10, (1, 8, 8), seed=0, dim=16, depth=1, heads=2, mlp_dim=16)]
        return built + [reinitialize(copy.deepcopy(m), 5) for m in built]     # and a re-initialisation

    solo = build()
    for models in in_threads(build):
        assert [state_equal(a, b) for a, b in zip(solo, models)] == [True] * len(solo)


def test_fit_same_seed_in_threads_gives_identical_weights(moons_small):
    X, y = moons_small

    def train():
        model = MLP(2, 2, (16, 16), seed=0)
        fit(model, X, y, epochs=8, batch_size=32, seed=0, device="cpu")
        return model

    assert all_state_equal(train(), in_threads(train))


def test_jit_unlearn_with_a_fixed_seed_in_threads(moons_small):
    """A whole app round: build and train the original, then unlearn with JiT, all seeded."""
    X, y = moons_small
    forget = (X[:10], y[:10])

    def run():
        original = MLP(2, 2, (16, 16), seed=1)
        fit(original, X, y, epochs=3, seed=1, device="cpu")
        return unlearn("jit", original, forget=forget, device="cpu", seed=3, n_samples=10).model

    assert all_state_equal(run(), in_threads(run))


def test_dropout_model_in_train_mode_in_threads():
    """VGG11 with dropout 0.5, fine-tuned (train mode): the masks come from the run's seed, not from a
    generator the other threads share."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(48, 1, 8, 8, generator=g)
    y = torch.randint(0, 3, (48,), generator=g)
    original = build_model("vgg11", 3, (1, 8, 8), seed=0, width=2, dropout=0.5)

    def run():
        return unlearn("finetune", original, forget=(X[:4], y[:4]), retain=(X[4:], y[4:]), device="cpu",
                       epochs=2, batch_size=16, seed=2).model

    solo = run()
    assert all_state_equal(solo, in_threads(run))
    other = unlearn("finetune", original, forget=(X[:4], y[:4]), retain=(X[4:], y[4:]), device="cpu",
                    epochs=2, batch_size=16, seed=3).model
    assert not state_equal(solo, other)


def test_image_training_with_dropout_in_threads_and_resumed(tmp_path):
    """The image trainer's dropout masks come from the seed, one stream per epoch: 8 threads match a solo
    run, and a run stopped after one epoch and resumed matches an uninterrupted one."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(40, 1, 8, 8, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    recipe = dict(epochs=2, batch_size=16, lr=0.01, crop_pad=1, flip=False, schedule="constant")

    def train():
        model = build_model("vgg11", 3, (1, 8, 8), seed=0, width=2, dropout=0.5)
        train_images(model, X, y, recipe, seed=1, device="cpu")
        return model

    solo = train()
    assert all_state_equal(solo, in_threads(train, n=4))

    class Stop(Exception):
        pass

    def stop_after_first(epoch, entry, model):
        if epoch == 1:
            raise Stop

    ck = tmp_path / "vgg.pt"
    with pytest.raises(Stop):
        train_images(build_model("vgg11", 3, (1, 8, 8), seed=0, width=2, dropout=0.5), X, y, recipe, seed=1,
                     device="cpu", checkpoint=str(ck), callback=stop_after_first)
    resumed = build_model("vgg11", 3, (1, 8, 8), seed=0, width=2, dropout=0.5)
    train_images(resumed, X, y, recipe, seed=1, device="cpu", checkpoint=str(ck), resume=True)
    assert state_equal(solo, resumed)


def test_preset_picks_the_same_forget_set_in_threads():
    preset = PRESETS["high_info"]
    cfg = preset.config

    def choose():
        ws = new_workspace(cfg["dataset"], noise=cfg["noise"], seed=cfg["seed"], n_samples=200,
                           model_cfg=ModelConfig(seed=cfg["seed"], width=16, depth=2, epochs=20))
        ws.train()
        return tuple(int(i) for i in preset.select(ws))

    solo = choose()
    assert len(solo) > 0
    assert in_threads(choose) == [solo] * THREADS


# --- no draw from torch's global generator -------------------------------------------------------------------

def test_no_global_draws_guard_catches_a_draw():
    with pytest.raises(GlobalDrawError):
        with no_global_draws("the test"):
            torch.rand(3)
    with pytest.raises(GlobalDrawError):
        with no_global_draws("the test"):
            torch.empty(3).uniform_()
    with no_global_draws("the test"):
        torch.rand(3, generator=torch.Generator().manual_seed(0))


@pytest.mark.slow
def test_seeded_runs_never_touch_the_global_generator(tiny):
    """Construction, training and every method's run, under a guard that refuses any global draw."""
    X, y = tiny["X"], tiny["y"]
    cls = y == 0                                    # a whole class, so the class-level methods run too
    with no_global_draws("a seeded run"):
        model = MLP(2, 3, hidden=(8,), seed=4)
        fit(model, X, y, epochs=2, seed=4, device="cpu")
        build_model("resnet18", 3, (1, 8, 8), seed=0, width=2)
        for name in METHODS:
            unlearn(name, tiny["model"], forget=(X[cls], y[cls]), retain=(X[~cls], y[~cls]), device="cpu", seed=1)


def test_reinitialize_refuses_a_reset_that_draws_globally():
    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(3))

        def reset_parameters(self):
            torch.nn.init.normal_(self.w)          # no generator: would draw from the shared one

    class Fine(Custom):
        def reset_parameters(self, generator=None):
            torch.nn.init.normal_(self.w, generator=generator)

    with pytest.raises(TypeError, match="'generator' argument"):
        reinitialize(Custom(), 0)
    assert torch.equal(reinitialize(Fine(), 0).w, reinitialize(Fine(), 0).w)


def test_dropout_draws_from_the_block_generator():
    layer = Dropout(0.5).train()
    x = torch.ones(1000)
    with dropout_rng(7):
        a = layer(x)
    torch.manual_seed(123)                          # the global generator plays no part
    with dropout_rng(7):
        b = layer(x)
    with dropout_rng(8):
        c = layer(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) == {0.0, 2.0} and 400 < int((a == 0).sum()) < 600
    assert torch.equal(layer.eval()(x), x)


# --- a source scan: nothing in the library seeds or draws from a process-wide generator ----------------------

LIBRARY = ("unlearn_core", "toy_data", "ui", "app_pages")
#: Calls that seed, fork or restore a process-wide generator.
SEEDING = {"torch.manual_seed", "torch.seed", "torch.random.manual_seed", "torch.random.seed",
           "torch.random.fork_rng", "torch.set_rng_state", "torch.random.set_rng_state",
           "torch.cuda.manual_seed", "torch.cuda.manual_seed_all", "torch.cuda.set_rng_state",
           "torch.cuda.set_rng_state_all", "numpy.random.seed", "numpy.random.set_state", "random.seed",
           "random.setstate"}
#: torch functions that draw: they must be given generator=.
TORCH_DRAWS = {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal",
               "bernoulli", "multinomial", "poisson"}
#: In-place draws (tensor methods and torch.nn.init functions): they must be given generator=.
INPLACE_DRAWS = {"uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "cauchy_",
                 "log_normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                 "xavier_normal_", "orthogonal_", "sparse_"}
#: Explicit-generator constructors allowed under numpy.random and random.
NUMPY_OK = {"default_rng", "Generator", "SeedSequence", "PCG64", "PCG64DXSM", "Philox", "SFC64", "BitGenerator"}
RANDOM_OK = {"Random"}
DROPOUT_FUNCS = {"torch.nn.functional.dropout", "torch.dropout", "torch.nn.functional.dropout1d",
                 "torch.nn.functional.dropout2d", "torch.nn.functional.alpha_dropout", "torch.nn.Dropout"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def global_rng_uses(source: str) -> list[str]:
    """Every call in ``source`` that seeds, forks or draws from a process-wide generator, as 'line: call'."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases) or ""
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else name.rpartition(".")[2]
        has_gen = any(k.arg == "generator" for k in node.keywords)
        bad = (name in SEEDING or name in DROPOUT_FUNCS
               or (name.startswith("numpy.random.") and name.split(".")[2] not in NUMPY_OK)
               or (name.startswith("random.") and name.split(".")[1] not in RANDOM_OK)
               or (name.startswith("torch.") and attr in TORCH_DRAWS and name.count(".") == 1 and not has_gen)
               or (attr in INPLACE_DRAWS and not has_gen))
        if bad:
            found.append(f"{node.lineno}: {name or attr}")
    return found


PLANTED = {
    "import torch\ntorch.manual_seed(0)\n": "torch.manual_seed",
    "import torch\nwith torch.random.fork_rng():\n    pass\n": "torch.random.fork_rng",
    "from torch import manual_seed as ms\nms(3)\n": "torch.manual_seed",
    "import numpy as np\nnp.random.seed(0)\n": "numpy.random.seed",
    "import numpy as np\nx = np.random.rand(3)\n": "numpy.random.rand",
    "import random\nrandom.seed(1)\n": "random.seed",
    "import random\nrandom.shuffle([1, 2])\n": "random.shuffle",
    "from random import choice\nchoice([1, 2])\n": "random.choice",
    "import torch\ntorch.randn(3)\n": "torch.randn",
    "import torch\nw = torch.empty(3)\nw.uniform_(-1, 1)\n": "uniform_",
    "from torch import nn\nnn.init.kaiming_uniform_(w)\n": "torch.nn.init.kaiming_uniform_",
    "import torch.nn.functional as F\nF.dropout(x, 0.5, True)\n": "torch.nn.functional.dropout",
    "from torch import nn\nlayer = nn.Dropout(0.5)\n": "torch.nn.Dropout",
}


@pytest.mark.parametrize("source", PLANTED)
def test_scan_catches_planted_violations(source):
    found = global_rng_uses(source)
    assert found and PLANTED[source] in found[0], found


def test_scan_accepts_explicit_generators():
    ok = ("import numpy as np\nimport torch\nfrom torch import nn\n"
          "rng = np.random.default_rng(0)\ng = torch.Generator().manual_seed(0)\n"
          "torch.randn(3, generator=g)\ntorch.empty(3).uniform_(0, 1, generator=g)\n"
          "nn.init.normal_(torch.empty(2), generator=g)\nrng.normal(size=3)\n")
    assert global_rng_uses(ok) == []


def test_library_never_uses_a_process_wide_generator():
    files = [ROOT / "app.py"] + [f for pkg in LIBRARY for f in sorted((ROOT / pkg).rglob("*.py"))]
    offences = [f"{f.relative_to(ROOT)}:{hit}" for f in files for hit in global_rng_uses(f.read_text())]
    assert offences == [], "\n".join(offences)
