"""Atomic outputs: no partial files, and the leftovers of an interrupted write are cleaned."""

import pytest

from preemergence.core import artifacts


def test_leftovers_of_a_killed_write_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "table3.md"
    stale = tmp_path / ".table3.md.k1ll3d.tmp"         # as a kill mid-write leaves it
    stale.write_text("half")
    other = tmp_path / ".other.md.x.tmp"               # another output's: not ours to remove
    other.write_text("half")
    artifacts.atomic_write_text(target, "done")
    assert target.read_text() == "done" and not stale.exists() and other.exists()


def test_leftover_folders_of_a_killed_directory_write_are_removed(tmp_path):
    for name in (".regions.tmp-abc", ".regions.old-.regions.tmp-def"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.fits").write_text("partial")
    with artifacts.atomic_directory(tmp_path / "regions") as tmp:
        (tmp / "a.fits").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regions"]


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with artifacts.atomic_output(tmp_path / "model.keras", suffix=".keras") as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_remove_leftovers_of_a_run_folder(tmp_path):
    (tmp_path / ".checkpoint.keras.abc.tmp.keras").write_bytes(b"x")
    (tmp_path / "progress.json").write_text("{}")
    removed = artifacts.remove_leftovers(tmp_path)
    assert [p.name for p in removed] == [".checkpoint.keras.abc.tmp.keras"]
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]


def test_outputs_are_refused_unless_forced_and_folders_are_not_files(tmp_path):
    (tmp_path / "mine.md").write_text("user")
    with pytest.raises(FileExistsError, match="pass --force"):
        artifacts.refuse_overwrite_any([tmp_path / "new", tmp_path / "mine.md"], force=False)
    artifacts.refuse_overwrite_any([tmp_path / "mine.md"], force=True)
    with pytest.raises(ValueError, match="is a folder"):
        artifacts.require_file_path(tmp_path)


def test_a_training_stage_refusing_to_overwrite_says_its_runs_are_reused(tmp_path):
    """After a kill, a training stage's outputs exist; its refusal says that --force
    retrains nothing that finished (the run store keeps the runs)."""
    import pytest
    (tmp_path / "table3.md").write_text("half a run")
    with pytest.raises(FileExistsError, match=r"table3.md: already exists; pass --force to "
                                              r"replace it; finished training runs are kept"):
        artifacts.refuse_overwrite_any([tmp_path / "table3.md"], force=False, trains=True)
    with pytest.raises(FileExistsError) as refused:
        artifacts.refuse_overwrite_any([tmp_path / "table3.md"], force=False)
    assert "run store" not in str(refused.value)
