import datetime as dt
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from risk_model.modeling.package import replace_directory, version_label


def test_version_labels_are_unique_within_one_second_and_safe():
    now = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC)
    labels = {version_label("same model", now) for _ in range(50)}
    assert len(labels) == 50  # 32 random bits: a collision here is about 1 in 3 million
    assert all(re.fullmatch(r"20260102T030405000678Z-[0-9a-f]{8}-[0-9a-f]{8}", x) for x in labels)


def test_version_labels_sort_by_time():
    early = version_label("m", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    late = version_label("m", dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
    assert early < late


def _tree(path, text):
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.txt").write_text(text)
    (path / "spec.json").write_text(text)


def test_replace_directory_swaps_whole_copies(tmp_path):
    old, new, target = tmp_path / "old", tmp_path / "new", tmp_path / "out" / "latest"
    _tree(old, "old")
    _tree(new, "new")
    replace_directory(old, target)
    assert (target / "model.txt").read_text() == "old"
    replace_directory(new, target)
    assert {p.name: p.read_text() for p in target.iterdir()} == {
        "model.txt": "new",
        "spec.json": "new",
    }
    assert sorted(p.name for p in target.parent.iterdir()) == ["latest"]


def test_a_failed_copy_leaves_the_old_latest_whole(tmp_path, monkeypatch):
    old, new, target = tmp_path / "old", tmp_path / "new", tmp_path / "out" / "latest"
    _tree(old, "old")
    _tree(new, "new")
    replace_directory(old, target)

    def broken(src, dst, **kwargs):
        os.makedirs(dst)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("risk_model.modeling.package.shutil.copytree", broken)
    with pytest.raises(OSError, match="No space"):
        replace_directory(new, target)
    assert (target / "model.txt").read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["latest"]


def test_leftovers_of_a_killed_swap_are_cleaned(tmp_path):
    new, target = tmp_path / "new", tmp_path / "out" / "latest"
    _tree(new, "new")
    (tmp_path / "out" / ".latest.new-dead").mkdir(parents=True)
    # A process killed between the copy and the swap. It needs the package module, not
    # scikit-learn, which LightGBM imports unless hidden: the scoring command's stack hides it
    # (~1.2 s of CPU less, of the child's ~2.2 s).
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import pipelines._scoring_stack
        from risk_model.modeling import package
        real = package.shutil.copytree
        def killed(src, dst, **kw):
            real(src, dst, **kw)
            os.kill(os.getpid(), signal.SIGKILL)
        package.shutil.copytree = killed
        package.replace_directory(Path({str(new)!r}), Path({str(target)!r}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr  # it got as far as the copy
    assert not target.exists()  # killed before the swap: nothing half-written under latest
    replace_directory(new, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["latest"]
