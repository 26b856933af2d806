"""ui/state/share.py: what a Playground link carries besides the configuration (the points, the forget history).

Round trips are exact where they fit; sizes are bounded before anything is decompressed; every malformed or
hostile input (cut base64, zip bombs, wrong types, out-of-range ids, unknown methods, hyperparameters the page
would never use) gives a ValueError that says what is wrong.
"""
import base64
import json
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from ui.state import share
from ui.state.workspace import new_workspace, workspace_from_split
from unlearn_core import METHODS


def pack(raw: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def pack_json(doc) -> str:
    return pack(json.dumps(doc).encode())


def gaps(ids) -> list[int]:
    """Ids as the link writes them: the first, then the gaps."""
    ids = sorted(int(i) for i in ids)
    return ids[:1] + [b - a for a, b in zip(ids, ids[1:])]


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2)).astype(np.float32)
    y = rng.integers(0, 3, 150)
    perm = rng.permutation(150)
    return X, y, perm[:120], np.sort(perm[120:])


# --- data -----------------------------------------------------------------------------------------------------
def test_data_round_trip_is_exact_with_the_split_and_its_order(points):
    X, y, tr, te = points
    text, quantised = share.encode_data(X, y, tr, te, n_classes=4, bounds=(-3, 3, -2.5, 3.5), kind="csv")
    assert not quantised and len(text) <= share.MAX_DATA_CHARS
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # URL-safe
    d = share.decode_data(text)
    assert np.array_equal(d.X, X) and np.array_equal(d.y, y) and d.X.dtype == np.float32 and d.y.dtype == np.int64
    assert np.array_equal(d.train_idx, tr) and np.array_equal(d.test_idx, te)  # training order kept
    assert d.n_classes == 4 and d.bounds == (-3, 3, -2.5, 3.5) and d.kind == "csv" and not d.quantised


def test_ordered_split_needs_no_order_block(points):
    X, y, _, _ = points
    a, _ = share.encode_data(X, y, np.arange(100), np.arange(100, 150), n_classes=3, bounds=(0, 1, 0, 1))
    d = share.decode_data(a)
    assert np.array_equal(d.train_idx, np.arange(100)) and np.array_equal(d.test_idx, np.arange(100, 150))


def test_large_data_is_quantised_then_refused():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(900, 2)).astype(np.float32)
    y = rng.integers(0, 2, 900)
    text, quantised = share.encode_data(X, y, np.arange(700), np.arange(700, 900), n_classes=2, bounds=(-4, 4, -4, 4))
    assert quantised and len(text) <= share.MAX_DATA_CHARS
    d = share.decode_data(text)
    assert d.quantised and np.abs(d.X - X).max() <= (X.max() - X.min()) / 65535 + 1e-6
    X = rng.normal(size=(2000, 2)).astype(np.float32)
    y = rng.integers(0, 2, 2000)
    assert share.encode_data(X, y, np.arange(1600), np.arange(1600, 2000), n_classes=2, bounds=(-4, 4, -4, 4)) is None


@pytest.mark.parametrize("bad, message", [
    (dict(y=np.array([0, 1, 5])), "labels must be in"),
    (dict(n_classes=7), "2 to 4 classes"),
    (dict(train=[0, 1], test=[1, 2]), "split the points exactly"),
    (dict(X=np.array([[0, 0], [np.nan, 1], [1, 1]])), "finite"),
    (dict(kind="magic"), "kind must be"),
])
def test_encode_refuses_what_the_format_cannot_say(bad, message):
    kw = dict(X=np.zeros((3, 2)), y=np.array([0, 1, 0]), train=[0, 1], test=[2], n_classes=2, kind="drawn")
    kw.update(bad)
    with pytest.raises(ValueError, match=message):
        share.encode_data(kw["X"], kw["y"], kw["train"], kw["test"], n_classes=kw["n_classes"], bounds=(0, 1, 0, 1),
                          kind=kw["kind"])


def header(fmt=0, kind=0, k=2, ordered=1, n=3, bounds=(0, 1, 0, 1)) -> bytes:
    import struct
    return struct.pack("<BBBBH", fmt, kind, k, ordered, n) + np.asarray(bounds, "<f4").tobytes()


def good_body(n=3) -> bytes:
    return np.zeros((n, 2), "<f4").tobytes() + bytes([0, 1, 0x80])


@pytest.mark.parametrize("text, message", [
    (None, "not text"),
    ("", "empty"),
    ("a" * (share.MAX_DATA_CHARS + 1), "at most"),
    ("abc$def", "URL-safe base64"),
    ("abcde", "truncated"),
    ("AAAA", "not valid compressed data"),
    (pack(header() + good_body())[:-8], "truncated|not valid compressed"),
    (pack(header() + good_body()) + "AAAA", "stray|not valid"),
    (pack(b"\x00" * 10), "too short"),
    (pack(header(fmt=9) + good_body()), "format 9"),
    (pack(header(kind=4) + good_body()), "source 4"),
    (pack(header(k=9) + good_body()), "9 classes"),
    (pack(header(n=0)), "0 points"),
    (pack(header(n=3) + good_body()[:10]), "need at least"),
    (pack(header() + good_body() + b"xx"), "stray bytes"),
    (pack(header() + np.zeros((3, 2), "<f4").tobytes() + bytes([0, 3, 0])), "label 3"),
    (pack(header() + np.array([[0, 0], [np.inf, 0], [1, 1]], "<f4").tobytes() + bytes([0, 1, 0x80])), "not finite"),
    (pack(header(bounds=(1, 0, 0, 1)) + good_body()), "bounds"),
    (pack(header(ordered=0) + good_body()), "order of its 2 training points"),
    (pack(header(ordered=0) + good_body() + np.array([0, 0], "<u2").tobytes()), "not a permutation"),
])
def test_decode_data_rejects_bad_links_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        share.decode_data(text)


def test_a_zip_bomb_stops_at_the_bound():
    huge = pack(b"\x00" * (50 * 1024 * 1024))  # 50 MB of zeros: longer than a link may be, refused unread
    assert len(huge) > share.MAX_DATA_CHARS
    with pytest.raises(ValueError, match="at most"):
        share.decode_data(huge)
    bomb = base64.urlsafe_b64encode(zlib.compress(b"\x00" * (3 * 1024 * 1024), 9)).decode().rstrip("=")
    assert len(bomb) <= share.MAX_DATA_CHARS  # 3 MB in a link-sized text: decompression stops at the bound
    with pytest.raises(ValueError, match="unpacks to more than"):
        share.decode_data(bomb)
    hist_bomb = pack(b"[" + b" " * (2 * 1024 * 1024) + b"]")
    assert len(hist_bomb) <= share.MAX_HISTORY_CHARS
    with pytest.raises(ValueError, match="unpacks to more than"):
        share.decode_history(hist_bomb)


# --- history --------------------------------------------------------------------------------------------------
def steps_like(*specs):
    return [SimpleNamespace(method=m, ids=np.asarray(ids), hyperparameters={**METHODS[m].defaults(), **hp})
            for m, ids, hp in specs]


def test_history_round_trip_keeps_methods_ids_and_used_hyperparameters():
    steps = steps_like(("jit", [5, 3, 40], {"batch_size": 1, "epochs": 4, "lr": 0.1 / 12}),
                       ("finetune", [7], {"epochs": 2}), ("ssd", list(range(100, 160)), {}))
    text = share.encode_history(steps)
    back = share.decode_history(text)
    assert [s.method for s in back] == ["jit", "finetune", "ssd"]
    assert back[0].ids == (3, 5, 40) and back[2].ids == tuple(range(100, 160))
    for s, b in zip(steps, back):
        assert b.hyperparameters == s.hyperparameters  # every one, the float exactly
    assert share.encode_history([]) is None


def test_a_history_too_long_for_a_link_is_refused_by_the_encoder():
    rng = np.random.default_rng(0)
    steps = steps_like(*[("jit", rng.choice(2000, 300, replace=False), {"lr": float(rng.random())})
                         for _ in range(30)])
    assert share.encode_history(steps) is None


@pytest.mark.parametrize("doc, message", [
    ({"m": "jit"}, "not a list"),
    ([], "1 to 30"),
    ([{"m": "jit", "ids": [1]}] * 2, "not {m, ids, hp}"),
    ([{"m": "nope", "ids": [1], "hp": {}}], "'nope'"),
    ([{"m": "jit", "ids": [], "hp": {}}], "1 to 2000 point ids"),
    ([{"m": "jit", "ids": ["1"], "hp": {}}], "not whole numbers"),
    ([{"m": "jit", "ids": [1.5], "hp": {}}], "not whole numbers"),
    ([{"m": "jit", "ids": [3, 0], "hp": {}}], "out of order or repeated"),
    ([{"m": "jit", "ids": [-1], "hp": {}}], "out of order"),
    ([{"m": "jit", "ids": [1999, 5], "hp": {}}], "beyond 1999"),
    ([{"m": "jit", "ids": [10 ** 30], "hp": {}}], "beyond 1999"),
    ([{"m": "jit", "ids": [1], "hp": []}], "not a mapping"),
    ([{"m": "jit", "ids": [1], "hp": {"bogus": 1}}], "unknown hyperparameter"),
    ([{"m": "jit", "ids": [1], "hp": {"seed": 3}}], "cannot be changed on this page"),
    ([{"m": "jit", "ids": [1], "hp": {"epochs": 10 ** 9}}], "above the page's limit"),
    ([{"m": "jit", "ids": [1], "hp": {"lr": -1}}], "lr must be"),
    ([{"m": "jit", "ids": [1], "hp": {"lr": "fast"}}], "lr must be"),
    ([{"m": "jit", "ids": [1], "hp": {"batch_size": True}}], "batch_size must be"),
    ([{"m": "jit", "ids": [1], "hp": {"normalize_step": "sideways"}}], "normalize_step must be"),
    ([{"m": "jit", "ids": [1], "hp": {"lr": [1]}}], "single value"),
])
def test_decode_history_rejects_bad_links_with_a_clear_message(doc, message):
    with pytest.raises(ValueError, match=message):
        share.decode_history(pack_json(doc))


@pytest.mark.parametrize("raw, message", [
    (b'[{"m": "jit", "ids": [1], "hp": {"lr": NaN}}]', "not valid JSON"),
    (b'[{"m": "jit", "ids": [1], "hp": {"lr": 1e999}}]', "not valid JSON"),
    (b"[" * 50000 + b"]" * 50000, "nested too deeply|not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b'[{"m": "jit", "ids": [1], "hp": {}}', "not valid JSON"),
])
def test_decode_history_rejects_hostile_json(raw, message):
    with pytest.raises(ValueError, match=message):
        share.decode_history(pack(raw))


def test_check_history_against_the_data():
    train, n = np.array([0, 1, 2, 3]), 6
    ok = share.decode_history(pack_json([{"m": "jit", "ids": [1], "hp": {}}, {"m": "jit", "ids": [0, 2], "hp": {}}]))
    share.check_history(ok, train, n)
    for ids, message in [([7], "has 6 points"), ([4], "not a training point"), ([0, 1, 1, 1], "every remaining")]:
        steps = share.decode_history(pack_json([{"m": "jit", "ids": ids, "hp": {}}]))
        with pytest.raises(ValueError, match=message):
            share.check_history(steps, train, n)
    twice = share.decode_history(pack_json([{"m": "jit", "ids": [1], "hp": {}}, {"m": "jit", "ids": [1], "hp": {}}]))
    with pytest.raises(ValueError, match="forgotten already"):
        share.check_history(twice, train, n)


def test_read_link_checks_the_history_against_the_link_data(points):
    X, y, tr, te = points
    data, _ = share.encode_data(X, y, tr, te, n_classes=3, bounds=(-3, 3, -3, 3))
    hist = pack_json([{"m": "jit", "ids": [int(te[0])], "hp": {}}])  # a test point
    with pytest.raises(ValueError, match="not a training point"):
        share.read_link({"data": data, "hist": hist})
    d, h = share.read_link({"data": data, "dataset": "moons"})
    assert h is None and len(d.y) == 150
    assert share.read_link({"dataset": "moons"}) == (None, None)


# --- a whole workspace: link and replay -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    ws = new_workspace("moons", n_samples=120, seed=0)
    ws.model_cfg.epochs = 30
    ws.train()
    return ws


def test_link_params_and_replay_reproduce_a_drawn_workspace(trained):
    from ui.state.workspace import edit_points
    drawn = edit_points(trained, add=[(0.1, 0.2, 1), (1.5, -0.4, 0)])
    drawn.model_cfg = trained.model_cfg
    drawn.train()
    drawn.select(drawn.train_ids[:3])
    drawn.forget("jit", {"batch_size": 1, "epochs": 4, "lr": 0.01})
    drawn.select(drawn.train_ids[5:7])
    drawn.forget("finetune", {"epochs": 2})
    params, notes = share.link_params(drawn)
    assert set(params) == {"data", "hist"} and not notes
    data, hist = share.read_link(params)
    copy = workspace_from_split(data.X, data.y, data.train_idx, data.test_idx, n_classes=data.n_classes,
                                source=data.kind, bounds=data.bounds, model_cfg=drawn.model_cfg)
    copy.train()
    share.replay(copy, hist)
    assert copy.gridspec.bounds == pytest.approx(drawn.gridspec.bounds)
    assert [s.ids.tolist() for s in copy.steps] == [s.ids.tolist() for s in drawn.steps]
    for a, b in zip(copy.model.parameters(), drawn.model.parameters()):
        assert np.allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-6)


def test_replay_is_all_or_nothing(trained):
    bad = share.decode_history(pack_json([{"m": "jit", "ids": [int(trained.train_ids[0])], "hp": {}},
                                          {"m": "jit", "ids": [int(trained.test_ids[0])], "hp": {}}]))
    with pytest.raises(ValueError, match="not a training point"):
        share.replay(trained, bad)
    assert not trained.steps
    diverge = share.decode_history(pack_json([{"m": "jit", "ids": [int(trained.train_ids[0])], "hp": {}},
                                              {"m": "jit", "ids": gaps(trained.train_ids[1:30]),
                                               "hp": {"lr": 10.0}}]))
    try:
        share.replay(trained, diverge)
    except ValueError as err:
        assert "forget request 2 (jit) failed" in str(err) and not trained.steps
    else:  # the step did not diverge on this data: both requests applied
        assert len(trained.steps) == 2
    trained.reset()


def test_a_generated_workspace_carries_only_its_history(trained):
    params, notes = share.link_params(trained)
    assert params == {} and notes == []


def test_points_too_many_for_a_link_leave_the_configuration_only():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 2)).astype(np.float32)
    ws = workspace_from_split(X, rng.integers(0, 2, 2000), np.arange(1500), np.arange(1500, 2000), n_classes=2,
                              source="csv")
    params, notes = share.link_params(ws)
    assert params == {} and len(notes) == 1 and "2000 points are too many" in notes[0]
    ws.steps.append(SimpleNamespace(method="jit", ids=np.array([1]), hyperparameters=METHODS["jit"].defaults()))
    assert "not the forget requests" in share.link_params(ws)[1][0]
