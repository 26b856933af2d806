"""The app through Streamlit's AppTest (no browser): it renders, trains, forgets and shows the comparison."""
import json

from streamlit.testing.v1 import AppTest

import toy_data
from unlearn_core import MLP, fit
from ui.figures import boundary_figure, class_grid, loss_figure

APP = __import__("pathlib").Path(__file__).resolve().parent.parent / "app.py"


def test_app_renders_and_forgets():
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert "Forget" in [b.label for b in at.button]
    assert len(at.get("plotly_chart")) == 1
    at.button[0].click().run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # original, unlearned, retrained, loss curve
    assert len(at.dataframe) == 1
    df = at.dataframe[0].value
    assert list(df.index) == ["original", "jit", "retrain"]
    spec = json.loads(charts[1].proto.spec)
    assert any(t.get("name") == "retrained" for t in spec["data"])


def test_app_reports_bad_selection():
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.selectbox[1].select("full_class").run()
    at.number_input[1].set_value(5).run()  # moons has classes 0 and 1 only
    assert not at.exception
    assert any("class 5 does not exist" in e.value for e in at.error)


def test_boundary_figure_marks_forgotten_points_and_ghost():
    X, y = toy_data.make_dataset("moons", n_samples=100, seed=0)
    m = MLP(seed=0)
    fit(m, X, y, epochs=5, seed=0, device="cpu")
    fig = boundary_figure(m, X, y, (-2, 3, -2, 2), forget_ids=[0, 1, 2], ghost=m, resolution=50)
    names = [t.name for t in fig.data]
    assert "forgotten" in names and "retrained" in names
    forgotten = [t for t in fig.data if t.name == "forgotten"][0]
    assert list(forgotten.customdata) == [0, 1, 2]
    shown = sum(len(t.x) for t in fig.data if t.type == "scatter")
    assert shown == 100  # every point exactly once


def test_class_grid_shapes_and_loss_figure():
    m = MLP(seed=0)
    xs, ys, cls, conf = class_grid(m, (-1, 1, -1, 1), 30)
    assert cls.shape == conf.shape == (30, 30) and ((conf >= 0.5) & (conf <= 1)).all()
    fig = loss_figure([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}])
    assert list(fig.data[0].y) == [2.0, 1.0]
