"""The Images page's data paths stay inside the data folder (issue 14, part 4).

Before: the path "/" listed the server's top folders as class names, and the CIFAR check told "not a tar
archive" (the file exists) apart from "does not exist". Now a path is resolved (symlinks, "..") and must
lie inside ``$UNLEARN_DATA_ROOT`` (default data/ beside app.py); outside and missing get one message,
and only paths inside reach the loader's own checks. The CLI keeps full paths.
"""
from __future__ import annotations

import os

import pytest

from ui.state import images as im
from unlearn_core.images.data import check_data_dir
from unlearn_core.testing import write_fake_cifar, write_fake_folder


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """root/ (the data folder: a fake CIFAR-10 archive, a 'faces' image folder) and outside/ beside it
    (a secret image folder and a file that is not a tar archive), with the variable pointing at root."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    archive = write_fake_cifar(root, "cifar10", n_train=20, n_test=10)
    write_fake_folder(root / "faces", classes=["ann", "bob"], per_class=2, size=8)
    write_fake_folder(outside / "secret", classes=["etc", "home"], per_class=2, size=8)
    (outside / "junk.tar.gz").write_bytes(b"not a tar")
    monkeypatch.setenv(im.DATA_ROOT_ENV, str(root))
    return root, outside, archive


def refusal(dataset, path) -> str:
    with pytest.raises(ValueError) as info:
        im.check_data_path(dataset, path)
    return str(info.value)


def test_allowed_paths_relative_or_absolute_inside(layout):
    root, _, archive = layout
    assert im.check_data_path("cifar10", archive.name) == os.path.realpath(archive)
    assert im.check_data_path("cifar10", f"  {archive}  ") == os.path.realpath(archive)
    assert im.check_data_path("cifar10", ".") == os.path.realpath(root)  # the folder holding the archive
    assert im.check_data_path("folder", "faces") == os.path.realpath(root / "faces")
    assert im.targets_for("folder", "full_class", "faces") == ["ann", "bob"]
    assert im.check_data_path("folder", "faces/../faces") == os.path.realpath(root / "faces")


@pytest.mark.parametrize("path", ["/", "..", "../outside/secret", "faces/../../outside/secret", "/etc",
                                  "../../../../../../etc", "~", "/proc/self", "\x00", "x" * 5000])
def test_outside_paths_are_refused(layout, path):
    msg = refusal("folder", path)
    assert msg.startswith("No data at ") and "in the data folder" in msg
    assert "etc" not in msg.replace(repr(path.strip()[:200]), "")  # nothing of the outside is listed


def test_absolute_path_outside(layout):
    _, outside, _ = layout
    assert refusal("folder", str(outside / "secret")).startswith("No data at ")
    with pytest.raises(ValueError, match="No data at"):
        im.targets_for("folder", "full_class", str(outside / "secret"))
    with pytest.raises(ValueError, match="No data at"):
        im.make_config(dataset="folder", data_dir=str(outside / "secret"))


def test_symlink_escape(layout):
    root, outside, _ = layout
    (root / "link").symlink_to(outside / "secret", target_is_directory=True)
    (root / "alias.tar.gz").symlink_to(outside / "junk.tar.gz")
    assert refusal("folder", "link").startswith("No data at ")
    assert refusal("folder", "link/etc").startswith("No data at ")
    assert refusal("cifar10", "alias.tar.gz").startswith("No data at ")
    # a link inside the folder that stays inside it is fine
    (root / "faces2").symlink_to(root / "faces", target_is_directory=True)
    assert im.check_data_path("folder", "faces2") == os.path.realpath(root / "faces")


def test_missing_and_not_allowed_read_the_same(layout):
    """The CIFAR check cannot tell whether a file outside the folder exists (the issue's probe)."""
    root, outside, _ = layout
    existing, missing = str(outside / "junk.tar.gz"), str(outside / "nothing.tar.gz")
    a, b = refusal("cifar10", existing), refusal("cifar10", missing)
    assert a.replace(existing, "P") == b.replace(missing, "P")
    assert "tar" not in a.replace(existing, "P").lower()
    assert refusal("cifar10", "nothing.tar.gz").replace("nothing.tar.gz", "P") == a.replace(existing, "P")
    # inside the folder, the loader's own message helps (the folder is the user's to explore)
    (root / "junk.tar.gz").write_bytes(b"not a tar")
    assert "not a tar archive" in refusal("cifar10", "junk.tar.gz")


def test_default_root_is_data_beside_app(monkeypatch):
    monkeypatch.delenv(im.DATA_ROOT_ENV, raising=False)
    app_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert im.data_root() == os.path.realpath(os.path.join(app_dir, "data"))
    assert "data/ beside app.py" in refusal("folder", "/")
    monkeypatch.setenv(im.DATA_ROOT_ENV, "/somewhere")
    msg = refusal("folder", "/")
    assert "/somewhere" not in msg and im.DATA_ROOT_ENV in msg  # the message does not reveal the server's layout


def test_the_cli_keeps_full_paths(layout):
    _, outside, _ = layout
    assert "class folders" in check_data_dir("folder", str(outside / "secret"))  # the library is not confined
