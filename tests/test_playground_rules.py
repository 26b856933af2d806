"""Issue 12's Playground rules as pure functions: a watchable first forget, whole-class-only methods, the
divergence rule for losses that start near 0, whole-number loss-chart ticks."""
import numpy as np
import pytest

from ui.state import report
from ui.state.workspace import Diverged, new_workspace
from ui.views.curves import integer_dtick, loss_curve
from unlearn_core.methods.jit import TOY2D


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_a_first_forget_of_few_points_gets_ten_real_steps(n):
    hp = dict(TOY2D)
    change = report.watchable_hp(n, hp)
    assert change["batch_size"] == 1
    steps = report.steps_for(n, 1, change["epochs"])
    assert steps >= report.WATCHABLE_STEPS
    old = report.steps_for(n, hp["batch_size"], hp["epochs"])
    assert change["lr"] * steps == pytest.approx(hp["lr"] * old)  # the same nominal path length
    assert report.watchable_hp(40, hp) is None  # 10 steps already


@pytest.fixture(scope="module")
def ws():
    w = new_workspace("blobs", n_samples=120, classes=3, seed=0)
    w.model_cfg.epochs = 30
    w.train()
    return w


def test_whole_class_only_methods_need_a_whole_class(ws):
    cls1 = ws.train_ids[ws.y[ws.train_ids] == 1]
    assert report.whole_class_error(ws, cls1, "emmn") is None
    assert report.whole_class_error(ws, cls1, "gkt") is None
    err = report.whole_class_error(ws, cls1[:-1], "emmn")
    assert err and "whole classes only" in err and "class 1" in err
    extra = np.concatenate([cls1, ws.train_ids[ws.y[ws.train_ids] == 0][:1]])
    assert report.whole_class_error(ws, extra, "gkt")  # a class and a bit of another
    assert report.whole_class_error(ws, cls1[:3], "jit") is None  # other methods take any selection


def test_scrub_is_not_stopped_as_diverged_when_its_first_loss_is_near_zero(ws):
    ws.selection = set(ws.train_ids[:3].tolist())
    try:
        step = ws.forget("scrub", {})
    except Diverged as err:  # pragma: no cover - the failure this test guards against
        pytest.fail(f"SCRUB stopped as diverged: {err}")
    assert len(step.history) > 1 and step.method == "scrub"
    ws.undo()
    ws.clear_selection()


def test_loss_chart_ticks_are_whole_steps():
    assert [integer_dtick(n) for n in (1, 2, 8, 12, 60, 400)] == [1, 1, 1, 2, 10, 50]
    fig = loss_curve([{"step": 1, "loss": 0.5}], title="one step")
    ax = fig["layout"]["xaxis"]
    assert ax["dtick"] == 1 and ax["tickformat"] == "d" and ax["tick0"] == 0
