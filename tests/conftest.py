import pytest
import torch

import toy_data

# The models under test are tiny: one thread avoids oversubscription on small CPUs.
torch.set_num_threads(1)
from unlearn_core import MLP, fit


@pytest.fixture(scope="session")
def moons():
    """600 moons points split 75/25, and a trained 2x64 MLP (the default recipe)."""
    X, y = toy_data.make_dataset("moons", n_samples=600, seed=0)
    Xtr, Xte, ytr, yte, _, _ = toy_data.train_test_split(X, y, seed=0)
    model = MLP(2, 2, seed=0)
    fit(model, Xtr, ytr, epochs=100, seed=0, device="cpu")
    return dict(Xtr=Xtr, ytr=ytr, Xte=Xte, yte=yte, model=model)


@pytest.fixture
def tiny():
    """A tiny 3-class problem and a briefly trained small MLP."""
    X, y = toy_data.make_dataset("blobs", n_samples=90, seed=1, classes=3)
    model = MLP(2, 3, hidden=(16,), seed=0)
    fit(model, X, y, epochs=20, seed=0, device="cpu")
    forget = (X[:6], y[:6])
    retain = (X[6:], y[6:])
    return dict(X=X, y=y, model=model, forget=forget, retain=retain)


def run_entry(entry, argv, capsys):
    """(exit code, stdout, stderr) of a command-line entry point ``entry(argv)`` run in this process
    (``unlearn_core.bench``'s or ``unlearn_core.pretrain``'s ``main``); argparse's errors exit through SystemExit."""
    try:
        code = entry(list(argv))
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def snapshot(model: torch.nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
