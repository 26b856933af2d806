"""Forgetting audits on images (issue 13): K models per sample with the image trainer, on the serial engine and
on a real local Ray, scored by the 2-D audit's code. Digits, SmallCNN, one training epoch, K = 4: the numbers
mean little (the models are undertrained), the tests check the wiring, the keys and that both engines agree."""
import json
import math

import numpy as np
import pytest
import torch

from unlearn_core.audit import Outputs, ensemble_outputs, member_seeds, score_samples
from unlearn_core.bench.cli import main
from unlearn_core.ensemble import fit_ensemble
from unlearn_core.images.audit import cost, plan_members, score_members
from unlearn_core.images.bench import BenchConfig, collect, job_audit_data, plan_benchmark, run_benchmark
from unlearn_core.models import MLP
from unlearn_core.report import strict_json

FAST = {"finetune": {"epochs": 1}}
AUDIT_KEYS = ("audit_F", "audit_final", "audit_eps_mean", "audit_ulira", "audit_retain_F")


def config(out, protocol="challenge", **kw) -> BenchConfig:
    base = dict(dataset="digits", settings=("random",), forget_count=8, methods=("jit", "finetune"), seeds=(0,),
                device="cpu", out_dir=str(out), train_epochs=1, overrides=FAST, audit=4, audit_protocol=protocol)
    base.update(kw)
    return BenchConfig(**base)


def comparable(rows):
    """Rows without wall-clock seconds (also inside the audit's dict), as strict JSON data."""
    out = []
    for r in rows:
        r = {k: v for k, v in r.items() if k != "seconds"}
        if "audit" in r:
            r["audit"] = {k: v for k, v in r["audit"].items() if k != "seconds"}
        out.append(r)
    return strict_json(out)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run_benchmark(config(tmp_path_factory.mktemp("serial")))


def test_plan_members_and_their_cost():
    ch = plan_members(0, 4, "challenge", ["jit", "finetune"])
    roles = [m.role for m in ch]
    assert roles.count("reference") == roles.count("floor") == 4 and roles.count("method") == 8
    assert roles.count("original") == 1 and ch[0].role == "original" and ch[0].seed == 0  # measured, not trained
    orig = plan_members(2, 4, "originals", ["jit"])
    seeds = member_seeds(2, 4, "originals")
    assert [m.seed for m in orig if m.role == "original"] == seeds["original"] == seeds["method"]
    assert [m.seed for m in orig if m.role == "reference"] == seeds["retrain"]
    assert cost(4, "challenge", 2) == dict(trainings=8, unlearning=8)
    assert cost(4, "originals", 2) == dict(trainings=12, unlearning=8)
    assert [m.role for m in plan_members(0, 4, "challenge", [], floor=False, ceiling=False)] == ["reference"] * 4
    with pytest.raises(ValueError, match="K >= 4"):
        plan_members(0, 3, "challenge", [])


def test_outputs_of_single_models_stack_to_the_ensembles():
    """The image audit stacks one model's outputs per member; the 2-D audit measures an ensemble at once."""
    X = torch.randn(40, 2)
    y = (X[:, 0] > 0).long()
    ens = fit_ensemble(lambda s: MLP(2, 2, hidden=(8,), seed=s), X, y, seeds=[0, 1, 2, 3], epochs=3, lr=0.01,
                       batch_size=16, device="cpu")
    data = dict(Xf=X[:5], yf=y[:5].numpy(), Xrs=X[5:9], yrs=y[5:9].numpy(), Xr=X[5:], yr=y[5:].numpy(), Xt=X,
                yt=y.numpy())
    whole = ensemble_outputs(ens, data)
    parts = Outputs.stack([ensemble_outputs(ens.subset([k]), data) for k in range(4)])
    np.testing.assert_allclose(parts.conf_forget, whole.conf_forget, rtol=1e-6, atol=1e-6)
    assert (parts.correct == whole.correct).all() and parts.acc("test") == whole.acc("test")
    res = score_samples(4, np.arange(5), np.arange(5, 9), whole, parts, None,
                        {"m": (parts, 1.0, False), "bad": "bad could not run: no"}, seeds={})
    assert set(res.scores) == {"m", "retrain"} and res.errors == {"bad": "bad could not run: no"}


def test_serial_audit_scores_every_method(serial):
    rows = {r["method"]: r for r in serial.rows}
    assert set(rows) == {"original", "retrain", "jit", "finetune"}
    for r in rows.values():
        assert all(math.isfinite(r[k]) for k in AUDIT_KEYS), r
        assert r["audit"]["K"] == 4 and r["audit"]["protocol"] == "challenge"
        assert len(r["audit"]["eps"]) == 8 and all(0 <= e <= 50 for e in r["audit"]["eps"])
        assert 0 <= r["audit_F"] <= 1 and 0 <= r["audit_ulira"] <= 1
        assert r["key"]["audit"]["K"] == 4
    assert rows["retrain"]["audit"]["role"] == "floor" and rows["original"]["audit"]["role"] == "ceiling"
    assert rows["original"]["audit_no_spread"]  # challenge: the ceiling is one model K times


def test_the_scores_do_not_depend_on_the_order_of_the_members(serial):
    """An engine returns members in any order; the scores are the same."""
    plan = plan_benchmark(config(None))
    job = plan.jobs[0]
    members = plan.audit_members(job, plan.names)
    rng = np.random.default_rng(0)
    fake = {}
    for m in members:
        out = Outputs(rng.normal(size=(1, 8)), rng.normal(size=(1, 20)), np.array([[5, 3, 7]]), (10, 8, 12))
        fake[m] = dict(outputs=out, seconds=0.5, error=None)
    data = job_audit_data(job)
    a = score_members(4, "challenge", 0, data, fake, ["jit", "finetune"])
    b = score_members(4, "challenge", 0, data, dict(reversed(list(fake.items()))), ["jit", "finetune"])
    assert list(a.scores) == list(b.scores) == ["jit", "finetune", "retrain", "original"]
    assert strict_json(a.to_dict()["methods"]) == strict_json(b.to_dict()["methods"])


def test_audit_settings_are_in_the_run_keys():
    keys = {K: plan_benchmark(config(None, audit=K)) for K in (0, 4, 5)}
    job = keys[0].jobs[0]
    k0, k4, k5 = (keys[K].run_key(job, "jit") for K in (0, 4, 5))
    assert "audit" not in k0 and k4["audit"]["K"] == 4 and k4 != k5
    k4o = plan_benchmark(config(None, audit_protocol="originals")).run_key(job, "jit")
    assert k4o != k4 and k4o["audit"]["protocol"] == "originals"


@pytest.fixture(scope="module")
def engine():
    from unlearn_core.bench.engine import EngineOptions, RayEngine
    eng = RayEngine(EngineOptions("ray", None, 1.0, 0.0, 2), num_cpus=2)
    yield eng
    eng.close()


@pytest.mark.slow  # about 40 s on a 2-core machine, most of it Ray's workers starting
def test_ray_gives_the_serial_audit(serial, engine, tmp_path):
    from unlearn_core.bench.engine import run_image_grid
    on_ray = run_image_grid(plan_benchmark(config(tmp_path / "ray"), device="cpu"), engine)
    assert comparable(on_ray.rows) == comparable(serial.rows)
    by_method = lambda rows: sorted(comparable(rows), key=lambda r: r["method"])  # noqa: E731
    assert by_method(collect(str(tmp_path / "ray"))) == by_method(serial.rows)  # the files the driver wrote


@pytest.mark.slow
def test_ray_gives_the_serial_audit_under_the_originals_protocol(engine, tmp_path):
    from unlearn_core.bench.engine import run_image_grid
    cfg = dict(protocol="originals", methods=("jit",), overrides={})
    serial = run_benchmark(config(tmp_path / "s", **cfg))
    on_ray = run_image_grid(plan_benchmark(config(tmp_path / "r", **cfg), device="cpu"), engine)
    assert comparable(on_ray.rows) == comparable(serial.rows)
    rows = {r["method"]: r for r in serial.rows}
    assert not rows["original"]["audit_no_spread"] and rows["original"]["audit"]["protocol"] == "originals"


def test_cli_audit_on_digits_writes_the_columns_and_resumes_by_k(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["--dataset", "digits", "--setting", "random", "--forget-count", "6", "--seeds", "0", "--methods",
            "jit", "--train-epochs", "1", "--out", str(out), "--quiet", "--no-plot", "--threads", "1"]
    assert main([*argv, "--audit", "4"]) == 0
    stdout = capsys.readouterr().out
    assert "audit with K=4" in stdout and "audit F" in stdout
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert all(k in header for k in AUDIT_KEYS)
    rows = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in rows if r.get("audit_F") is not None} == {"original", "retrain", "jit"}
    assert main([*argv, "--audit", "4"]) == 0  # same K: every run reused
    assert "recomputed" not in capsys.readouterr().err
    assert main([*argv, "--audit", "5"]) == 0  # another K: recomputed
    err = capsys.readouterr().err
    assert "audit (K 4 -> 5" in err, err
    assert all(r["audit"]["K"] == 5 for r in json.loads((out / "results.json").read_text()))


def failing_member(plan, job, loaded, original, member, threads):
    """An audit member task that always crashes for the floor's member 1 (the others run as usual)."""
    from unlearn_core.bench.engine import audit_task
    if member.role == "floor" and member.k == 1:
        raise RuntimeError("simulated crash of an audit member")
    return audit_task(plan, job, loaded, original, member, threads)


@pytest.mark.slow
def test_an_audit_member_that_keeps_failing_fails_its_cell_and_a_rerun_retries_it(serial, engine, tmp_path):
    from unlearn_core.bench.engine import run_image_grid
    out = tmp_path / "o"
    result = run_image_grid(plan_benchmark(config(out), device="cpu"), engine, member_fn=failing_member)
    assert all(r.get("failed") for r in result.rows) and len(result.rows) == 4
    assert all("simulated crash of an audit member" in r["error"] for r in result.rows)
    assert all(r.get("failed") for r in collect(str(out)))  # on disk, marked failed: a rerun retries them
    again = run_benchmark(config(out))  # the rerun (here serial) gives the serial engine's rows
    assert comparable(again.rows) == comparable(serial.rows)
