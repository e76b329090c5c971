"""Atomic writes (edgekit/atomic.py): temporary names carry the writer's pid, failures leave no partial file, and
only the leftovers of dead edgekit processes are ever cleaned up."""
from __future__ import annotations

import errno
import os

import pytest

from edgekit import atomic


def test_leftovers_of_dead_processes_only(tmp_path, dead_pid):
    """A dead edgekit process's temp folder and sibling go; a live one's, a foreign look-alike and a user's
    file stay."""
    dead, alive = dead_pid, os.getpid()
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    work = {f"edgekit-export-{dead}-abcd_123": False, f"edgekit-export-{alive}-abcd_123": True,  # name -> kept?
            "edgekit-export-abcd_123": True, f"edgekit-export-{dead}-abcd_123x": True,
            f"other-export-{dead}-abcd_123": True}
    for name in work:
        (temp_root / name).mkdir()
        (temp_root / name / "model.onnx").write_bytes(b"scratch")
    siblings = {f".art.edgekit-{dead}-abcd1234.tmp": False, f".art.edgekit-{dead}-old.tmp": False,
                f".art.edgekit-{alive}-abcd1234.tmp": True, ".art.abcd1234.tmp": True,
                f"art.edgekit-{dead}-abcd1234.tmp": True}
    for name in siblings:
        (tmp_path / name).mkdir()
    removed = atomic.remove_stale_work_dirs(temp_root) + atomic.remove_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, kept in {**work, **siblings}.items() if not kept)
    assert {p.name for p in temp_root.iterdir()} == {n for n, kept in work.items() if kept}
    assert {p.name for p in tmp_path.iterdir()} - {"tmp"} == {n for n, kept in siblings.items() if kept}


def test_temp_names_carry_the_pid(tmp_path):
    with atomic.work_dir("export") as work:
        assert atomic.STALE_WORK_DIR.fullmatch(work.name) and f"-{os.getpid()}-" in work.name
    seen = []
    with atomic.atomic_dir(tmp_path / "art") as folder:
        seen.append(folder.name)
    assert atomic.STALE_SIBLING.fullmatch(seen[0]) and f"edgekit-{os.getpid()}-" in seen[0]


def test_atomic_dir_never_turns_a_file_into_a_folder(tmp_path):
    regular = tmp_path / "art"
    regular.write_bytes(b"mine")
    with pytest.raises(OSError) as info:
        with atomic.atomic_dir(regular):
            pass
    assert info.value.errno == errno.ENOTDIR and info.value.filename == str(regular)
    assert regular.read_bytes() == b"mine" and [p.name for p in tmp_path.iterdir()] == ["art"]


def test_a_failed_write_names_the_output_and_leaves_nothing(tmp_path):
    """A write error (here: a file bigger than RLIMIT_FSIZE allows, EFBIG, as a full disk would be ENOSPC) is an
    OSError naming the output; no temporary file stays and the previous content is intact."""
    import resource
    import signal

    out = tmp_path / "m.json"
    out.write_text("previous")
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, old_limit[1]))
    try:
        with pytest.raises(OSError) as info:
            atomic.atomic_write_bytes(out, b"x" * 5000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert info.value.errno == errno.EFBIG and info.value.filename == str(out)
    assert out.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_writing_through_a_link_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    atomic.atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
