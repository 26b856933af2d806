"""The Geometry page: information alpha, Lipschitz estimates, perturbation clouds, the two JiT gradients at
one point, the 1-D example (unlearn_core.geometry), its model runs (ui.state.geometry), figures
(ui.views.geometry), and the page itself through AppTest."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from ui.state import geometry as geo_state
from ui.state.events import chosen_point
from ui.views import geometry as geo_views
from unlearn_core import geometry as geo
from unlearn_core import scenarios
from unlearn_core.methods.jit import jit_loss

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "geometry.py"


class Constant(nn.Module):
    def __init__(self, k=3):
        super().__init__()
        self.bias = nn.Parameter(torch.arange(k, dtype=torch.float32))

    def forward(self, x):
        return self.bias.expand(len(x), -1)


class Scaled(nn.Module):
    """logits = W z + b with z = x / s: a linear model that declares its input scale like the MLP."""

    def __init__(self, W, s):
        super().__init__()
        self.lin = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            self.lin.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
        self.register_buffer("s", torch.as_tensor(s, dtype=torch.float32))

    def input_scale(self):
        return self.s

    def forward(self, x):
        return self.lin(x / self.s)


def linear(W):
    m = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        m.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
    return m


# --- information ---------------------------------------------------------------------------------

def test_alpha_isolated_point_of_other_class_is_zero_and_alpha_in_unit_interval():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.3, (40, 2)), [[0.0, 0.0]], rng.normal(4, 0.3, (40, 2))])
    y = np.array([0] * 40 + [1] + [1] * 40)  # point 40 is class 1 amid class 0
    alpha = scenarios.information(X, y, radius=0.5)
    assert alpha[40] == 0.0
    ok = ~np.isnan(alpha)
    assert ((alpha[ok] >= 0) & (alpha[ok] <= 1)).all()
    assert geo.high_info_mask(alpha, 0.5)[40]
    # alpha is the share of the neighbours (same standardised radius) that share the class
    for i in (0, 40, 60):
        nb = geo.neighbours(X, i, 0.5)
        assert len(nb) and alpha[i] == pytest.approx(np.mean(y[nb] == y[i]))


def test_high_info_mask_never_flags_points_without_neighbours():
    alpha = np.array([0.0, 0.2, np.nan, 1.0])
    assert geo.high_info_mask(alpha, 0.5).tolist() == [True, True, False, False]
    assert not geo.high_info_mask(alpha, 0.0).any()


def test_standardised_units_match_scenarios_and_are_scale_free():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(int)
    stretched = X * np.array([10.0, 0.1])
    np.testing.assert_allclose(geo.standard_scale(stretched), stretched.std(0))
    a, b = scenarios.information(X, y, 0.4), scenarios.information(stretched, y, 0.4)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)])
    np.testing.assert_array_equal(geo.neighbours(X, 3, 0.4), geo.neighbours(stretched, 3, 0.4))
    ex, ey = geo_views.ellipse(np.array([1.0, 2.0]), 0.5, [2.0, 3.0])
    np.testing.assert_allclose(((ex - 1) / 2.0) ** 2 + ((ey - 2) / 3.0) ** 2, 0.25)


# --- Lipschitz estimates ---------------------------------------------------------------------------

def test_constant_model_has_zero_estimates():
    P = np.random.default_rng(0).normal(size=(50, 2))
    for space in geo.SPACES:
        assert np.all(geo.mc_lipschitz(Constant(), P, 0.3, 10, space=space) == 0)
        assert np.all(geo.grad_norm(Constant(), P, space=space) == 0)
    Z = geo.lipschitz_grid(Constant(), (-1, 1, -1, 1), 20, estimator="mc", space="logits")
    assert Z.shape == (20, 20) and Z.dtype == np.float32 and not Z.any()


def test_isotropic_linear_model_estimate_is_exactly_its_scale():
    c, t = 2.5, 0.7
    W = c * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])  # c times a rotation
    P = np.random.default_rng(0).normal(size=(30, 2))
    est = geo.mc_lipschitz(linear(W), P, 0.4, 7, shared=False)
    np.testing.assert_allclose(est, c, rtol=1e-5)
    np.testing.assert_allclose(geo.grad_norm(linear(W), P), c * math.sqrt(2), rtol=1e-5)  # ||W||_F


def test_rank_one_linear_estimate_is_the_direction_average_of_its_slope():
    w = np.array([[3.0, -4.0]])  # ||w|| = 5; the ratio is ||w|| |cos(angle)|, whose mean in 2-D is 2/pi
    P = np.zeros((1, 2))
    est = geo.mc_lipschitz(linear(w), P, 0.2, 20000, seed=3)[0]
    assert est == pytest.approx(5 * 2 / math.pi, rel=0.02)
    assert geo.grad_norm(linear(w), P)[0] == pytest.approx(5.0, rel=1e-6)
    # for any model E||J u|| <= ||J||_F / sqrt(d): the MC ratio sits below the gradient norm
    assert est <= 5.0 / math.sqrt(2)


def test_estimates_are_measured_in_the_models_standardised_units():
    c = 1.5
    s = np.array([4.0, 0.25])
    model = Scaled(c * np.eye(2), s)  # in standardised units z = x / s it is c * I
    P = np.random.default_rng(2).normal(size=(10, 2))
    np.testing.assert_allclose(geo.mc_lipschitz(model, P, 0.3, 9), c, rtol=1e-5)
    np.testing.assert_allclose(geo.grad_norm(model, P), c * math.sqrt(2), rtol=1e-5)


def test_mc_estimate_equals_the_libraries_jit_loss_on_the_same_noise(moons):
    model, X = moons["model"], moons["Xtr"][:8]
    noise = geo.draw_noise(25, (8, 2), 0.25, seed=5)
    per_point = geo.mc_lipschitz(model, X, noise=noise)
    scale = model.input_scale().reshape(1, 2)
    with torch.no_grad():
        ref = jit_loss(model, torch.as_tensor(X), noise, scale=scale, reduction="mean")
    assert per_point.mean() == pytest.approx(float(ref), rel=1e-5)


def test_grid_rows_follow_y():
    class SquareOfY(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return (x[:, 1:2] ** 2) + 0 * self.dummy

    Z = geo.lipschitz_grid(SquareOfY(), (-1, 1, -2, 2), 11, estimator="grad", space="logits")
    np.testing.assert_allclose(Z, np.repeat(2 * np.abs(np.linspace(-2, 2, 11))[:, None], 11, 1), atol=1e-5)


def test_probability_estimate_is_largest_at_the_boundary(moons):
    model, X = moons["model"], moons["Xtr"]
    conf = geo.own_class_probability(model, X, geo.predicted_class(model, X))
    est = geo.mc_lipschitz(model, X, 0.25, 50, space="probs")
    sure, unsure = conf > 0.99, conf < 0.8
    assert sure.any() and unsure.any()
    assert est[unsure].mean() > 5 * est[sure].mean()


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="sigma"):
        geo.mc_lipschitz(Constant(), np.zeros((2, 2)), 0.0, 5)
    with pytest.raises(ValueError, match="space"):
        geo.grad_norm(Constant(), np.zeros((2, 2)), space="softmax")
    with pytest.raises(ValueError, match="resolution"):
        geo.lipschitz_grid(Constant(), (-1, 1, -1, 1), 101)
    with pytest.raises(ValueError, match="no hyperparameter"):
        geo_state.jit_hyperparameters(momentum=0.9)


# --- the perturbation cloud ------------------------------------------------------------------------

def test_perturbation_cloud_has_n_points_with_std_sigma(moons):
    model = moons["model"]
    x = moons["Xtr"][0]
    cloud = geo.perturbation_cloud(model, x, sigma=0.3, n_samples=4000, seed=1)
    assert cloud.points.shape == (4000, 2) and cloud.pred.shape == (4000,)
    np.testing.assert_allclose(cloud.noise.std(0), 0.3, rtol=0.05)
    scale = model.input_scale().numpy()
    np.testing.assert_allclose(cloud.points, x + cloud.noise * scale, rtol=1e-5, atol=1e-6)
    assert 0 <= cloud.share_other <= 1 and cloud.prob_x.sum() == pytest.approx(1, abs=1e-5)


def test_cloud_loss_is_jits_loss_at_that_point(moons):
    model, x = moons["model"], moons["Xtr"][3]
    cloud = geo.perturbation_cloud(model, x, sigma=0.25, n_samples=25, seed=2)
    noise = torch.as_tensor(cloud.noise).unsqueeze(1)  # [N, 1, 2]
    with torch.no_grad():
        ref = jit_loss(model, torch.as_tensor(x).reshape(1, 2), noise, scale=model.input_scale().reshape(1, 2))
    assert cloud.loss == pytest.approx(float(ref), rel=1e-5)


# --- JiT -----------------------------------------------------------------------------------------

def test_jit_forgets_memorised_high_information_points_and_spares_the_rest(moons):
    """The paper's claim, measured: at the high-information points the model classifies correctly,
    JiT moves the prediction towards the neighbours (own-class probability falls); low-information
    points keep theirs. The input model is untouched."""
    model, X, y = moons["model"], moons["Xtr"], moons["ytr"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    correct = geo.predicted_class(model, X) == y
    alpha = scenarios.information(X, y, 0.3)
    forget = np.flatnonzero(geo.high_info_mask(alpha, 0.5) & correct)
    low = np.flatnonzero(np.nan_to_num(alpha) >= 1.0)
    assert len(forget) >= 2 and len(low) > 100
    after = geo_state.run_jit(model, X[forget], y[forget])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    p0, p1 = geo.own_class_probability(model, X, y), geo.own_class_probability(after, X, y)
    assert (p1[forget] < p0[forget]).all()
    assert p0[forget].mean() - p1[forget].mean() > 0.1
    assert np.abs(p1[low] - p0[low]).mean() < 0.01
    rows = geo.change_rows(model, after, X, y, {"forget": forget, "low": low, "none": []}, sigma=0.25, n_samples=50)
    assert [r["points"] for r in rows] == ["forget", "low"]
    assert rows[0]["P(own class) after"] < rows[0]["P(own class) before"]
    # the after-JiT heat map is the new model's
    Zb = geo.lipschitz_grid(model, (-2, 3, -2, 2), 30, estimator="grad", space="probs")
    Za = geo.lipschitz_grid(after, (-2, 3, -2, 2), 30, estimator="grad", space="probs")
    assert not np.allclose(Za, Zb)


# --- the two gradients at one point ---------------------------------------------------------------

def test_point_outputs_are_the_clouds_numbers(moons):
    model, x = moons["model"], moons["Xtr"][5]
    out = geo.point_outputs(model, x, 0.25, 30, seed=2)
    cloud = geo.perturbation_cloud(model, x, 0.25, 30, seed=2)  # the same draws
    assert out.estimate == pytest.approx(cloud.loss, rel=1e-5)
    np.testing.assert_allclose(out.probs, cloud.prob_x, rtol=1e-5)
    with torch.no_grad():
        f = model(torch.as_tensor(np.vstack([x[None], cloud.points]), dtype=torch.float32))
    np.testing.assert_allclose(out.logits, f[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.mean_logits, f[1:].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.mean_probs, torch.softmax(f[1:], 1).mean(0).numpy(), rtol=1e-5, atol=1e-6)
    assert out.gap == pytest.approx(float(np.linalg.norm(out.logits - out.mean_logits)))
    assert out.pred == cloud.pred_x
    flat = geo.point_outputs(Constant(), np.zeros(2), 0.3, 10)
    assert flat.estimate == 0 and flat.gap == 0


def memorised_points(moons):
    X, y, model = moons["Xtr"], moons["ytr"], moons["model"]
    correct = geo.predicted_class(model, X) == y
    return np.flatnonzero(geo.high_info_mask(scenarios.information(X, y, 0.3), 0.5) & correct)


def test_detached_pulls_f_towards_the_neighbours_and_full_lowers_the_estimate(moons):
    """At each memorised high-information point of the fixture, from the same model, 10 steps on the point
    alone at the page's defaults: the detached step moves f(x) towards its neighbours' mean output (the
    first step shrinks the gap) and lowers P(own class); the full step lowers JiT's estimate ℓ(x) sharply.
    At the alpha = 0 point the detached step forgets and the full step does not (measured here)."""
    model, X, y = moons["model"], moons["Xtr"], moons["ytr"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    points = memorised_points(moons)
    assert len(points) >= 2
    for i in points:
        cmp = geo_state.compare_gradients(model, X[i], int(y[i]), model, bounds=(-2, 3, -2, 2), sigma=0.25,
                                          n_samples=25, lr=0.1, steps=10, resolution=20)
        own = int(y[i])
        det, full = cmp.runs["detached"], cmp.runs["full"]
        assert list(cmp.runs) == ["detached", "full"] and len(det.outputs) == len(full.outputs) == 11
        assert det.outputs[0] is full.outputs[0] is cmp.before and cmp.before.pred == own
        assert det.outputs[1].gap < det.outputs[0].gap  # f(x) moved towards the neighbours' mean
        assert det.after.probs[own] < cmp.before.probs[own] - 0.3
        assert full.after.estimate < 0.5 * cmp.before.estimate  # descent on the estimate
        assert det.cls.shape == full.cls.shape == cmp.retrain_cls.shape == (20, 20)
        assert det.shade.dtype == np.uint8
        np.testing.assert_allclose(cmp.retrain.logits, cmp.before.logits)  # "retrained" was the model itself
        assert cmp.hyperparameters["batch_size"] == 1 and cmp.hyperparameters["epochs"] == 10
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    i = int(next(j for j in points if scenarios.information(X, y, 0.3)[j] == 0))
    cmp = geo_state.compare_gradients(model, X[i], int(y[i]), model, bounds=(-2, 3, -2, 2), sigma=0.25,
                                      n_samples=25, lr=0.1, steps=10, resolution=20)
    assert cmp.runs["detached"].after.pred != int(y[i])  # forgotten
    assert cmp.runs["detached"].after.gap < 0.5 * cmp.before.gap
    assert cmp.runs["full"].after.pred == int(y[i])  # smoothed, not forgotten


def fake_comparison(steps=3, k=2, r=8):
    """A GradientComparison made of plain arrays (no model): what the figure builders receive."""
    def out(p_own, est, gap):
        logits = np.array([np.log(p_own), np.log(1 - p_own)] + [-5.0] * (k - 2), np.float32)
        mean = logits - np.float32(gap / np.sqrt(k))
        return geo.PointOutputs(logits=logits, probs=np.array([p_own, 1 - p_own] + [0.0] * (k - 2)),
                                mean_logits=mean, mean_probs=np.array([0.3, 0.7] + [0.0] * (k - 2)), estimate=est)
    start = out(0.9, 10.0, 2.0)
    grid = np.zeros((r, r), np.uint8)
    grid[:, r // 2:] = 1
    runs = {"detached": geo_state.GradientRun("detached", [start] + [out(0.9 - 0.25 * (j + 1), 9.0, 1.0)
                                                                   for j in range(steps)], grid * 200, grid),
            "full": geo_state.GradientRun("full", [start] + [out(0.88, 10.0 / (j + 2), 0.5) for j in range(steps)],
                                          grid * 100, grid)}
    return geo_state.GradientComparison(x=np.array([0.5, 0.5]), label=0, steps=steps, hyperparameters={}, runs=runs,
                                        retrain=out(0.1, 4.0, 0.2), retrain_shade=grid, retrain_cls=1 - grid)


def test_gradient_figures_draw_only_the_data_they_are_given():
    cmp = fake_comparison(steps=3)
    fig = geo_views.gradient_steps_figure(cmp)
    lines = [t for t in fig.data if t.type == "scatter"]
    by = {(t.name, t.xaxis): t for t in lines}
    det = by[(geo_views.GRADIENT_LABELS["detached"], "x")]
    np.testing.assert_allclose(det.y, [10.0, 9.0, 9.0, 9.0])  # the estimate per step
    full_gap = by[(geo_views.GRADIENT_LABELS["full"], "x2")]
    np.testing.assert_allclose(full_gap.y, [2.0, 0.5, 0.5, 0.5], rtol=1e-5)
    p_det = by[(geo_views.GRADIENT_LABELS["detached"], "x3")]
    np.testing.assert_allclose(p_det.y, [0.9, 0.65, 0.4, 0.15], rtol=1e-6)
    retrain = by[("retrained without x", "x3")]
    assert list(retrain.y) == [pytest.approx(0.1)] * 2
    rows = geo_views.gradient_rows(cmp)
    assert [r["model"] for r in rows] == ["original (before)", "after 3 detached steps", "after 3 full steps",
                                          "retrained without x"]
    assert rows[1]["P(own) at x"] == pytest.approx(0.15) and rows[3]["class at x"] == 1
    assert rows[0]["f(x) logits"].startswith("[-0.11, -2.30") and rows[0]["‖f(x) − mean‖"] == pytest.approx(2.0, rel=1e-5)
    assert rows[2]["ℓ(x)"] == pytest.approx(2.5)
    panel = geo_views.boundary_panel(cmp.runs["full"].shade, cmp.runs["full"].cls, (0, 1, 0, 1), X=np.zeros((4, 2)),
                                     y=np.array([0, 1, 0, 1]), point=cmp.x, label=0, n_classes=2,
                                     reference=cmp.retrain_cls, title="after 3 full steps")
    kinds = [t.type for t in panel.data]
    assert kinds.count("contour") == 2 and kinds[0] == "heatmap"
    star = panel.data[-1]
    assert star.marker.symbol == "star" and (star.x[0], star.y[0]) == (0.5, 0.5)
    assert panel.layout.yaxis.scaleanchor == "x" and panel.layout.title.text == "after 3 full steps"


# --- the 1-D example -------------------------------------------------------------------------------

def test_sigmoid_flat_point_has_smaller_estimate_than_slope_point():
    flat, slope = geo.sigmoid_example([3.0, 0.0], w=3.0, sigma=0.3, n_samples=200, seed=0)
    assert flat["estimate"] < 0.05 * slope["estimate"]
    assert flat["crossed"] == 0 and slope["crossed"] > 0.3
    assert len(flat["xs"]) == len(flat["fs"]) == 200
    # small sigma: the ratio tends to |f'(x)| = w f (1 - f)
    tiny, = geo.sigmoid_example([0.0], w=3.0, sigma=1e-3, n_samples=50)
    assert tiny["estimate"] == pytest.approx(tiny["slope"], rel=1e-3) and tiny["slope"] == pytest.approx(0.75)


# --- selection -------------------------------------------------------------------------------------

def test_chosen_point_reads_customdata_and_keeps_the_newest():
    sel = {"selection": {"points": [{"customdata": 7, "curve_number": 1}, {"customdata": [12]},
                                    {"customdata": None}, {"x": 1.0}, {"customdata": 99}]}}
    assert chosen_point(sel, allowed=[7, 12, 30]) == 12
    assert chosen_point(sel, allowed=[30]) is None
    assert chosen_point(None, allowed=[1]) is None
    assert chosen_point({"selection": {"points": []}}, allowed=[1]) is None

    class State:  # attribute access like PlotlyState
        selection = {"points": [{"customdata": 30}]}

    assert chosen_point(State(), allowed=[30]) == 30


# --- figures -------------------------------------------------------------------------------------

def test_information_figure_carries_global_ids_and_marks_high_information(moons):
    X, y = moons["Xtr"], moons["ytr"]
    ids = np.arange(1000, 1000 + len(y))
    alpha = scenarios.information(X, y, 0.3)
    cls = geo_state.class_grid(moons["model"], (-2, 3, -2, 2), 40)[1]
    fig = geo_views.information_figure(X, y, ids, alpha, tau=0.5, bounds=(-2, 3, -2, 2), n_classes=2,
                                       boundary=cls, chosen=1005, radius=0.3, scale=geo.standard_scale(X))
    pts = [t for t in fig.data if t.type == "scatter" and t.customdata is not None]
    shown = np.concatenate([np.asarray(t.customdata) for t in pts])
    assert sorted(shown.tolist()) == ids.tolist()  # every training point once, by global id
    high = geo.high_info_mask(alpha, 0.5)
    rings = np.concatenate([np.asarray(t.marker.line.color) == "black" for t in pts])
    order = np.argsort(shown)
    assert (rings[order] == high).all()
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.xaxis.fixedrange
    assert [t.name for t in fig.data][-2:] == ["radius r", "chosen"]


def test_heatmap_and_cloud_figures(moons):
    model = moons["model"]
    Z = geo.lipschitz_grid(model, (-2, 3, -2, 2), 40, sigma=0.25, n_samples=10)
    fig = geo_views.lipschitz_figure(Z, (-2, 3, -2, 2), zmax=2.0, X=moons["Xtr"], y=moons["ytr"],
                                     forget=moons["Xtr"][:3], n_classes=2)
    heat = fig.data[0]
    assert heat.type == "heatmap" and heat.hoverinfo == "skip" and (heat.zmin, heat.zmax) == (0.0, 2.0)
    spec = json.loads(fig.to_json())["data"][0]["z"]
    assert spec["dtype"] == "f4"  # float32 payload
    assert list(fig.layout.xaxis.range) == [-2, 3] and fig.layout.yaxis.scaleanchor == "x"
    cloud = geo.perturbation_cloud(model, moons["Xtr"][0], 0.25, 30)
    cf = geo_views.cloud_figure(cloud, geo_state.cloud_window(model, cloud, 0.25), sigma=0.25, n_classes=2)
    dots = [t for t in cf.data if t.type == "scatter" and (t.name or "").startswith("predicted")]
    assert sum(len(t.x) for t in dots) == 30
    sf = geo_views.sigmoid_figure(geo.sigmoid_example([2.5, 0.0], sigma=0.5), w=3.0, sigma=0.5)
    assert len(sf.layout.shapes) == 2 and len(sf.layout.annotations) == 2


# --- the page ------------------------------------------------------------------------------------

def _spec(chart):
    return json.loads(chart.proto.spec)


@pytest.mark.slow
def test_page_renders_and_reacts_to_controls():
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    assert not at.exception
    assert at.info and "What to look for" in at.info[0].value
    assert len(at.latex) >= 2
    charts = at.get("plotly_chart")
    assert len(charts) == 9  # alpha, cloud, before, after, gradient steps, 3 boundary panels, sigmoid
    assert at.session_state["geometry_point_options"]  # the training points, lowest alpha first

    at.slider(key="geometry_sigma").set_value(0.5).run()
    at.slider(key="geometry_n").set_value(40).run()
    assert not at.exception
    at.slider(key="geometry_r").set_value(0.5).run()
    at.slider(key="geometry_tau").set_value(0.8).run()
    assert not at.exception
    title = _spec(at.get("plotly_chart")[0])["layout"]["title"]["text"]
    assert "α < τ" in title

    # choose a point through the fallback widget: the cloud follows it
    options = at.session_state["geometry_point_options"]
    pick = options[len(options) // 2]
    at.selectbox(key="geometry_point").select(pick).run()
    assert not at.exception
    cloud = _spec(at.get("plotly_chart")[1])
    assert f"#{pick}" in cloud["layout"]["title"]["text"] and "40 perturbations" in cloud["layout"]["title"]["text"]

    # forget only that point, look at the gradient-norm map of the logits, show the difference
    at.radio(key="geometry_target").set_value("chosen").run()
    at.radio(key="geometry_estimator").set_value("grad").run()
    at.radio(key="geometry_space").set_value("logits").run()
    at.checkbox(key="geometry_show_diff").check().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 10
    table = at.dataframe[0].value
    assert table.loc["forget points", "n"] == 1


@pytest.mark.slow
def test_a_click_shows_the_two_gradients_at_that_point():
    at = AppTest.from_file(str(PAGE), default_timeout=90).run()
    assert not at.exception
    options = at.session_state["geometry_point_options"]
    first = at.session_state["geometry_point"]
    assert first in options[:20]  # the default: a low-alpha point the model classifies correctly
    assert any(f"which one forgets #{first}" in h.value for h in at.subheader)
    # a click on the alpha chart (injected as its selection state, as Streamlit stores it)
    pick = next(g for g in options[1:40] if g != first)
    at.session_state["geometry_alpha_chart"] = {"selection": {"points": [{"customdata": pick, "curve_number": 1}]}}
    at.run()
    assert not at.exception
    assert at.session_state["geometry_point"] == pick
    assert any(f"which one forgets #{pick}" in h.value for h in at.subheader)
    specs = [_spec(c) for c in at.get("plotly_chart")]
    steps = next(s for s in specs if "JiT's Lipschitz estimate" in json.dumps(s["layout"].get("annotations", [])))
    names = {t.get("name") for t in steps["data"]}
    assert {geo_views.GRADIENT_LABELS["detached"], geo_views.GRADIENT_LABELS["full"], "retrained without x"} <= names
    titles = [s["layout"].get("title", {}).get("text", "") for s in specs]
    assert {"after 10 detached steps", "after 10 full steps", f"retrained without #{pick}"} <= set(titles)
    table = next(d.value for d in at.dataframe if "retrained without x" in d.value.index)
    assert list(table.index) == ["original (before)", "after 10 detached steps", "after 10 full steps",
                                 "retrained without x"]
    assert any(f"JiT on #{pick} alone" in c.value for c in at.caption)
    # the same selection state on a later rerun does not override a pick in the selectbox
    other = next(g for g in options if g not in (pick, first))
    at.selectbox(key="geometry_point").select(other).run()
    assert at.session_state["geometry_point"] == other
    # fewer steps: the panels follow
    at.slider(key="geometry_grad_steps").set_value(3).run()
    assert not at.exception
    assert "after 3 full steps" in [_spec(c)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


@pytest.mark.slow
def test_page_uses_the_playgrounds_workspace_when_trained():
    from ui.state.workspace import ModelConfig, new_workspace
    ws = new_workspace("moons", n_samples=200, seed=3, model_cfg=ModelConfig(epochs=60, seed=3))
    ws.train()
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["workspace"] = ws
    at.run()
    assert not at.exception
    assert any("The Playground's data and its current model" in c.value for c in at.caption)
    assert "geometry_ws" not in at.session_state  # no second model was trained
    options = at.session_state["geometry_point_options"]
    assert sorted(options) == sorted(ws.train_ids.tolist())
