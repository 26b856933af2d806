"""The image model zoo (ResNet18, VGG11, ViT, SmallCNN), users' factories, and safe checkpoints."""
import os
import pickle
import shlex
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from unlearn_core import SmallCNN, reinitialize, unlearn
from unlearn_core.ensemble import Ensemble
from unlearn_core.images import checkpoints, zoo
from unlearn_core.images.checkpoints import (CheckpointError, UnsafeCheckpointError, load_checkpoint, load_model,
                                             save_checkpoint)
from unlearn_core.images.zoo import (ARCHITECTURES, VGG11, FactoryError, ResNet18, ViT, build_from_factory,
                                     build_model, load_factory)
from conftest import state_equal

CIFAR, DIGITS = (3, 32, 32), (1, 8, 8)
# Small variants for the slower checks (training steps, checkpoints); full sizes for shapes / counts.
SMALL = {"smallcnn": dict(width=8), "resnet18": dict(width=8), "vgg11": dict(width=8, dropout=0.0),
         "vit": dict(dim=32, depth=2, heads=2, mlp_dim=64)}
NAMES = sorted(ARCHITECTURES)


def images(shape, n=2, seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------------- models

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [CIFAR, DIGITS], ids=["cifar", "digits"])
def test_output_shapes(name, shape):
    model = build_model(name, 10, shape, seed=0).eval()
    with torch.no_grad():
        out = model(images(shape))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_parameter_counts():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ResNet18(10)) == 11_173_962          # ~11.2M, as the docstring says
    assert count(VGG11(10)) == 9_750_922
    assert count(ViT(10)) == 1_806_538
    assert count(build_model("smallcnn", 10, DIGITS)) == 56_394
    assert count(ResNet18(100)) == 11_173_962 + 90 * 513


def test_classes_and_aliases():
    assert isinstance(build_model("ResNet18", 10, CIFAR), ResNet18)
    assert isinstance(build_model("vgg16", 10, CIFAR), VGG11)          # the paper's "VGG16" is VGG11
    assert isinstance(build_model("vit", 10, CIFAR), ViT)
    assert isinstance(build_model("smallcnn", 10, DIGITS), SmallCNN)
    assert set(ARCHITECTURES) == {"smallcnn", "resnet18", "vgg11", "vit"}
    assert all(isinstance(v, str) and v for v in ARCHITECTURES.values())
    vit = build_model("vit", 10, DIGITS)
    assert vit.config["image_size"] == 8 and vit.config["patch_size"] == 2
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in ViT(10, depth=1).modules())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in VGG11(10).modules())


def test_vgg_skips_pools_that_do_not_fit():
    model = VGG11(10, width=8).eval()
    for side in (1, 2, 3, 8, 32, 40):
        assert model(torch.zeros(1, 3, side, side)).shape == (1, 10)
    # 32x32 goes through all five pools (as torchvision); 8x8 through three.
    sizes = []
    x = torch.zeros(1, 3, 8, 8)
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, zoo.MaxPoolIfFits):
            sizes.append(x.shape[-1])
    assert sizes == [4, 2, 1, 1, 1]


@pytest.mark.parametrize("name", NAMES)
def test_seed_determinism(name):
    a = build_model(name, 10, CIFAR, seed=1)
    b = build_model(name, 10, CIFAR, seed=1)
    c = build_model(name, 10, CIFAR, seed=2)
    assert state_equal(a, b)
    assert not state_equal(a, c)
    state = torch.random.get_rng_state()
    build_model(name, 10, CIFAR, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())       # the global RNG is left alone


@pytest.mark.parametrize("name", NAMES)
def test_reinitialize_resets_every_parameter_and_buffer(name):
    model = build_model(name, 10, CIFAR, seed=0)
    with torch.no_grad():
        for t in model.state_dict().values():
            t.fill_(3) if t.is_floating_point() else t.fill_(5)
    reinitialize(model, 0)
    assert state_equal(model, build_model(name, 10, CIFAR, seed=0))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow
def test_gradient_steps_fit_a_tiny_batch(name):
    model = build_model(name, 4, CIFAR, seed=0, **SMALL[name])
    X, y = images(CIFAR, n=8, seed=1), torch.arange(8) % 4
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="unknown architecture 'resnet50'.*resnet18"):
        build_model("resnet50", 10, CIFAR)
    with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
        build_model("resnet18", 10, (32, 32))
    with pytest.raises(ValueError, match="in_shape must be"):
        build_model("resnet18", 10, (3, 0, 32))
    with pytest.raises(ValueError, match="square"):
        build_model("vit", 10, (3, 32, 16))
    with pytest.raises(ValueError, match="patch_size"):
        build_model("vit", 10, CIFAR, patch_size=5)
    with pytest.raises(ValueError, match="bad options for vgg11.*dropout"):
        build_model("vgg11", 10, CIFAR, depth=3)
    with pytest.raises(ValueError, match="sets in_channels"):
        build_model("vgg11", 10, CIFAR, in_channels=1)
    with pytest.raises(ValueError, match="n_classes"):
        build_model("vgg11", 1, CIFAR)
    with pytest.raises(ValueError, match=r"ViT expects images \[batch, 3, 32, 32\]"):
        ViT(10, depth=1)(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="ResNet18 expects images"):
        ResNet18(10, width=4)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="multiple of heads"):
        ViT(10, dim=10, heads=3)


def test_jit_in_eval_mode_leaves_batchnorm_statistics_alone():
    model = ResNet18(3, width=4, seed=0)
    X, y = images(CIFAR, n=16, seed=2), torch.arange(16) % 3
    model.train()
    with torch.no_grad():
        model(X)                                    # give BN non-trivial running statistics
    model.eval()
    res = unlearn("jit", model, forget=(X[:4], y[:4]), sigma=0.1, n_samples=4, lr=1e-3, batch_size=2,
                  normalize_step="off", device="cpu")
    bn = {k: v for k, v in res.model.state_dict().items() if "running" in k or "num_batches" in k}
    assert bn and all(torch.equal(v, model.state_dict()[k]) for k, v in bn.items())
    assert not state_equal(res.model, model)        # the weights did move


def test_attention_matches_torch_sdpa():
    attn = zoo.Attention(16, 4).eval()
    x = torch.randn(3, 5, 16)
    q, k, v = attn.qkv(x).reshape(3, 5, 3, 4, 4).permute(2, 0, 3, 1, 4)
    ref = attn.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(3, 5, 16))
    torch.testing.assert_close(attn(x), ref, rtol=1e-5, atol=1e-6)


def test_ensembles_stack_vit_and_vgg_but_refuse_batchnorm():
    with pytest.raises(ValueError, match="BatchNorm"):
        Ensemble.from_models([ResNet18(3, width=4, seed=s) for s in range(2)])
    X = images(CIFAR, n=3)
    for name in ("vit", "vgg11"):
        members = [build_model(name, 3, CIFAR, seed=s, **SMALL[name]).eval() for s in range(2)]
        ens = Ensemble.from_models(members)
        call = lambda p, b: functional_call(members[0], (p, b), (X,))  # noqa: E731
        out = torch.vmap(call)(ens.params, ens.buffers)
        torch.testing.assert_close(out, torch.stack([m(X) for m in members]), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, tmp_path):
    model = build_model(name, 5, CIFAR, seed=0, **SMALL[name])
    model.fit_recipe = dict(epochs=3, lr=0.1, batch_size=64, weight_decay=0.0, optimizer="sgd")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.cross_entropy(model(images(CIFAR, n=4)), torch.arange(4)).backward()
    opt.step()
    path = tmp_path / "model.pt"
    assert save_checkpoint(path, model, meta={"in_shape": CIFAR, "dataset": "cifar10", "epoch": 3},
                           optimizer=opt, extra={"history": [1.0, 0.5]}) == str(path)
    ck = load_checkpoint(path)
    assert ck["format"] == checkpoints.FORMAT
    assert ck["meta"]["architecture"] == name and ck["meta"]["n_classes"] == 5
    assert ck["meta"]["in_shape"] == CIFAR and ck["meta"]["dataset"] == "cifar10" and ck["meta"]["epoch"] == 3
    assert ck["extra"] == {"history": [1.0, 0.5]}
    opt2 = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(ck["optimizer"])
    loaded = load_model(path)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config == model.config and loaded.fit_recipe == model.fit_recipe
    X = images(CIFAR, n=3, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded(X), model.eval()(X))
    assert state_equal(loaded, model)


def test_vgg16_alias_in_meta_and_digits_shapes(tmp_path):
    model = build_model("vgg16", 10, DIGITS, seed=0, width=8)
    save_checkpoint(tmp_path / "d.pt", model, meta={"architecture": "vgg16", "in_shape": [1, 8, 8]})
    assert load_checkpoint(tmp_path / "d.pt")["meta"]["architecture"] == "vgg11"
    assert state_equal(load_model(tmp_path / "d.pt"), model)


def test_atomic_write_leaves_no_temporary_files(tmp_path, monkeypatch):
    model = ResNet18(10, width=4, seed=0)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, meta={"in_shape": CIFAR})
    save_checkpoint(path, ResNet18(10, width=4, seed=1), meta={"in_shape": CIFAR})   # overwrite
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert not state_equal(load_model(path), model)
    # A failure while writing leaves the previous file intact and no temporary file behind.
    before = path.read_bytes()

    def broken_save(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise OSError("disk full")
    monkeypatch.setattr(checkpoints.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, meta={"in_shape": CIFAR})
    assert os.listdir(tmp_path) == ["ckpt.pt"] and path.read_bytes() == before


def test_save_refuses_values_that_would_not_load_weights_only(tmp_path):
    model = ResNet18(10, width=4, seed=0)
    with pytest.raises(CheckpointError, match=r"extra\['a'\]\[1\] is a numpy.*tolist"):
        save_checkpoint(tmp_path / "x.pt", model, meta={"in_shape": CIFAR}, extra={"a": [1, np.zeros(2)]})
    with pytest.raises(CheckpointError, match=r"meta\['acc'\] is a numpy"):
        save_checkpoint(tmp_path / "x.pt", model, meta={"in_shape": CIFAR, "acc": np.float64(0.5)})
    with pytest.raises(CheckpointError, match=r"meta\['n_classes'\] = 5 disagrees.*10"):
        save_checkpoint(tmp_path / "x.pt", model, meta={"in_shape": CIFAR, "n_classes": 5})
    with pytest.raises(CheckpointError, match="channels"):
        save_checkpoint(tmp_path / "x.pt", model, meta={"in_shape": DIGITS})
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        save_checkpoint(tmp_path / "no" / "x.pt", model, meta={"in_shape": CIFAR})
    assert os.listdir(tmp_path) == []


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.mark.parametrize("how", ["torch.save", "pickle-2", "pickle-5"])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, how):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    payload = {"state_dict": {"w": torch.zeros(2)}, "boom": _Evil(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=int(how[-1]))
    with pytest.raises(UnsafeCheckpointError, match="not a weights-only checkpoint.*nothing in it was executed"):
        load_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError, match="system" if how == "torch.save" else "weights-only"):
        load_model(path, architecture="resnet18", n_classes=10, in_shape=CIFAR)
    assert not marker.exists()
    assert isinstance(UnsafeCheckpointError("x"), ValueError)


def test_malicious_payload_is_live(tmp_path):
    """The payload above really runs when unpickled unsafely, so the test above means something."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_Evil(marker)))
    assert marker.exists()


def test_bare_state_dict(tmp_path):
    model = VGG11(10, width=8, seed=0)
    path = tmp_path / "bare.pt"
    torch.save(model.state_dict(), path)
    ck = load_checkpoint(path)
    assert ck["meta"] is None and ck["format"] is None and set(ck["state_dict"]) == set(model.state_dict())
    with pytest.raises(CheckpointError, match="pass n_classes and in_shape=.*bare state_dict"):
        load_model(path)
    with pytest.raises(CheckpointError, match="architecture= one of"):
        load_model(path, n_classes=10, in_shape=CIFAR)
    # VGG11's width is not recorded in a bare state_dict: the default width does not fit, and says so.
    with pytest.raises(CheckpointError, match=r"'features.0.weight' has shape \[8, 3, 3, 3\].*\[64, 3, 3, 3\]"):
        load_model(path, architecture="vgg11", n_classes=10, in_shape=CIFAR)
    full = tmp_path / "full.pt"
    torch.save(ResNet18(10, seed=0).state_dict(), full)
    loaded = load_model(full, architecture="resnet18", n_classes=10, in_shape=CIFAR)
    assert state_equal(loaded, ResNet18(10, seed=0))


def test_load_errors_name_the_problem(tmp_path):
    model = ResNet18(10, width=4, seed=0)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, meta={"in_shape": CIFAR})
    with pytest.raises(CheckpointError, match=r"parameter 'fc.weight' has shape \[10, 32\].*\[5, 32\].*n_classes=10"):
        load_model(path, n_classes=5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"epoch": 3, "weights": [1, 2]}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="neither an unlearn_core checkpoint nor a bare state_dict"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "unlearn_core.checkpoint/9", "state_dict": {}, "meta": {}}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="checkpoint/9"):
        load_checkpoint(tmp_path / "future.pt")
    # Missing and unexpected keys are listed.
    state = dict(model.state_dict())
    state.pop("fc.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "keys.pt")
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint: fc.bias.*model lacks: extra.weight"):
        load_model(tmp_path / "keys.pt", architecture="resnet18", n_classes=10, in_shape=CIFAR)


# ------------------------------------------------------------------------------------------------ factories

USER_MODULE = """
import torch
from torch import nn

calls = []

def make(n_classes, in_shape):
    calls.append((n_classes, in_shape))
    return nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(in_shape).prod()), 16), nn.ReLU(),
                         nn.Linear(16, n_classes))

def wrong_output(n_classes, in_shape):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(in_shape).prod()), n_classes + 1))

def not_a_module(n_classes, in_shape):
    return 42

def positional_only(a, b, /):
    return None

class Scale(nn.Module):          # has a parameter but no reset_parameters
    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(torch.ones(1))
    def forward(self, x):
        return x * self.s

def unresettable(n_classes, in_shape):
    return nn.Sequential(nn.Flatten(), Scale(), nn.LazyLinear(n_classes))

NOT_CALLABLE = 3
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = f"zoo_user_models_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_MODULE))
    (tmp_path / "zoo_broken_module.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    sys.modules.pop("zoo_broken_module", None)


def test_user_factory_builds_and_loads(user_module, tmp_path):
    spec = f"{user_module}:make"
    a = build_from_factory(spec, 3, (1, 4, 4), seed=0)
    b = build_from_factory(spec, 3, (1, 4, 4), seed=0)
    assert state_equal(a, b) and not state_equal(a, build_from_factory(spec, 3, (1, 4, 4), seed=1))
    assert sys.modules[user_module].calls[0] == (3, (1, 4, 4))      # the documented calling convention
    path = tmp_path / "user.pt"
    save_checkpoint(path, a, meta={"architecture": spec, "n_classes": 3, "in_shape": (1, 4, 4)})
    meta = load_checkpoint(path)["meta"]
    assert meta["factory"] == spec and meta["architecture"] is None
    # The factory named in the file is not imported on the file's say-so.
    with pytest.raises(CheckpointError, match=f"pass factory='{user_module}:make' if you trust"):
        load_model(path)
    loaded = load_model(path, factory=spec)
    X = torch.randn(2, 1, 4, 4)
    with torch.no_grad():
        assert torch.equal(loaded(X), a.eval()(X))
    assert state_equal(load_model(path, factory=sys.modules[user_module].make), a)   # a callable works too
    with pytest.raises(CheckpointError, match="'3.weight' has shape"):
        load_model(path, factory=spec, n_classes=4)


def test_user_factory_convention_errors(user_module):
    with pytest.raises(FactoryError, match=r"logits \[batch, 3\].*\(1, 4\)"):
        build_from_factory(f"{user_module}:wrong_output", 3, (1, 4, 4))
    with pytest.raises(FactoryError, match="returned a int, not a torch.nn.Module"):
        build_from_factory(f"{user_module}:not_a_module", 3, (1, 4, 4))
    with pytest.raises(FactoryError, match="must accept these two keyword arguments"):
        build_from_factory(f"{user_module}:positional_only", 3, (1, 4, 4))
    with pytest.raises(TypeError, match="no reset_parameters"):
        build_from_factory(f"{user_module}:unresettable", 3, (1, 4, 4), seed=0)


@pytest.mark.parametrize("spec, match", [
    ("no_colon_here", "looks like 'package.module:function'"),
    ("a:b:c", "looks like"),
    ("pkg.mod:", "looks like"),
    ("bad name:f", "looks like"),
    ("zoo_no_such_module_xyz:make", "cannot import module 'zoo_no_such_module_xyz'.*sys.path"),
    ("os:no_such_function", "'os' has no attribute 'no_such_function'"),
    ("os.path:join.nope", "has no attribute 'nope'"),
    ("math:pi", "names a float, not a callable"),
])
def test_load_factory_errors(spec, match):
    with pytest.raises(FactoryError, match=match):
        load_factory(spec)
    assert issubclass(FactoryError, ValueError)


def test_load_factory_reports_import_time_errors(user_module):
    with pytest.raises(FactoryError, match="raised RuntimeError: broken at import"):
        load_factory("zoo_broken_module:f")
    with pytest.raises(FactoryError, match="not a callable"):
        load_factory(f"{user_module}:NOT_CALLABLE")
    assert load_factory("unlearn_core.images.zoo:ResNet18") is ResNet18
