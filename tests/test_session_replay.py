"""``python -m unlearn_core.bench --session FILE``: a saved app session replayed as a bench table.

The session is made by the app's own code path (``ui.state.workspace`` trains and forgets,
``ui.state.session.session_to_json`` saves), then read by the core (``unlearn_core.session_file``) and
replayed (``unlearn_core.bench.replay``).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_entry
from ui.state.session import session_to_json
from ui.state.workspace import ModelConfig, new_workspace
from unlearn_core.bench.cli import main
from unlearn_core.bench.replay import read_session_file, replay_session
from unlearn_core.session_file import SessionFileError, read_session


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small session: two forget requests (JiT with batch size 1, then finetune), saved by the app."""
    ws = new_workspace("moons", n_samples=120, noise=0.2, seed=3, classes=None, test_ratio=0.25,
                       model_cfg=ModelConfig(width=16, depth=2, epochs=40))
    ws.train()
    ws.select(ws.train_ids[:4])
    ws.forget("jit", {"batch_size": 1, "epochs": 2, "lr": 0.01})
    ws.select(ws.train_ids[10:13])
    ws.forget("finetune", {"epochs": 2})
    path = tmp_path_factory.mktemp("session") / "demo.json"
    text = session_to_json(ws)
    path.write_text(text)
    return ws, path, text


def test_the_replay_reproduces_every_request_exactly(saved):
    ws, path, _ = saved
    doc = read_session_file(str(path))
    rows, requests = replay_session(doc, seeds=[0])
    assert [r["method"] for r in requests] == ["jit", "finetune"]
    assert [r["n_points"] for r in requests] == [4, 3]
    assert [r["steps"] for r in requests] == [len(s.history) for s in ws.steps]
    assert all(r["max_logit_gap"] == 0.0 for r in requests), requests
    by = {r["method"]: r for r in rows}
    assert set(by) == {"original", "retrain", "saved", "replayed"}
    assert by["saved"]["n_forget"] == 7
    for key in ("acc_retain", "acc_forget", "acc_test", "mia"):
        assert by["saved"][key] == by["replayed"][key]


def test_the_retrain_rows_follow_the_seeds_and_extra_methods_run_on_the_whole_forget_set(saved):
    _, path, _ = saved
    doc = read_session_file(str(path))
    rows, _ = replay_session(doc, seeds=[0, 1], methods=["finetune"])
    assert [r["method"] for r in rows if r["seed"] == 1] == ["original", "retrain", "saved", "replayed", "finetune"]
    ret = [r for r in rows if r["method"] == "retrain"]
    assert ret[0]["hyperparameters"]["seed"] == 0 and ret[1]["hyperparameters"]["seed"] == 1
    assert all(r["n_forget"] == 7 for r in rows)


def test_the_cli_prints_the_table_and_writes_strict_json(saved, tmp_path, capsys):
    _, path, _ = saved
    out = tmp_path / "rows.json"
    assert main(["--session", str(path), "--seeds", "0", "--methods", "jit", "--json", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "| saved |" in text and "| replayed |" in text and "| jit |" in text
    assert "request 1: jit forgot 4 point(s)" in text and "reproduced exactly" in text
    rows = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert {r["setting"] for r in rows} == {"session"}


@pytest.mark.parametrize("argv, needle", [
    (["--session", "/nonexistent/x.json"], "--session /nonexistent/x.json: the file does not exist"),
    (["--session", "/tmp"], "is not a file"),
    (["--session", "{path}", "--dataset", "circles"], "--dataset: --session replays the session's own data"),
    (["--session", "{path}", "--epochs", "3"], "--epochs: --session replays"),
    (["--session", "{path}", "--set", "scrub.epochs=2"], "scrub is not among the methods run"),
    (["--session", "{path}", "--methods", "nope"], "--methods: unknown method(s) nope"),
])
def test_bad_invocations_exit_2_with_a_message_naming_the_flag(saved, capsys, argv, needle):
    _, path, _ = saved
    argv = [a.replace("{path}", str(path)) for a in argv]
    code, _, err = run_entry(main, argv, capsys)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_damaged_file_names_the_json_path(saved, tmp_path, capsys):
    _, _, text = saved
    d = json.loads(text)
    d["steps"][1]["ids"] = [999_999]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    assert main(["--session", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "$.steps[1].ids[0]" in err and "out of range" in err


def test_a_session_without_forget_requests_says_what_to_do(saved, tmp_path, capsys):
    _, _, text = saved
    d = json.loads(text)
    d["steps"] = []
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(d))
    assert main(["--session", str(empty)]) == 2
    assert "holds no forget request" in capsys.readouterr().err


def test_the_core_reader_refuses_what_the_app_could_not_have_made(saved):
    _, _, text = saved
    d = json.loads(text)
    d["data"]["n_classes"] = 9
    with pytest.raises(SessionFileError, match=r"\$\.data\.n_classes: 9 is out of range 2\.\.4"):
        read_session(json.dumps(d))
    doc = read_session(text)
    assert np.array_equal(doc.selection, np.zeros(0, np.int64)) and len(doc.steps) == 2
