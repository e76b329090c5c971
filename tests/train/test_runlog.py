from __future__ import annotations

import pytest

from edgekit.errors import DataError
from edgekit.train.runlog import RunLog


def test_resume_keeps_the_epochs_of_the_checkpoint(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,loss\n1,0.5\n2,0.4\n3,0.3\n")
    log = RunLog(tmp_path, keep_epochs=2)
    assert [row["epoch"] for row in log.rows] == [1, 2]
    log.add(epoch=3, loss=0.25)
    assert (tmp_path / "log.csv").read_text() == "epoch,loss\n1,0.5\n2,0.4\n3,0.25\n"


@pytest.mark.parametrize("text", ["name,size\nx,1\n", "epoch,loss\nthree,0.1\n", "epoch\n1\n2,extra,fields\n",
                                  b"\xff\xfe\x00epoch\n"])
def test_a_foreign_log_is_refused_untouched(tmp_path, text):
    path = tmp_path / "log.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = path.read_bytes()
    with pytest.raises(DataError, match="log.csv: not a run log"):
        RunLog(tmp_path, keep_epochs=5)
    assert path.read_bytes() == before
