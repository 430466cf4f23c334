"""One log file per run, even for runs that start within the same second, and the newest KEEP."""

import logging

from pipeline import run_log as run_log_module
from pipeline.run_log import KEEP, run_log


def test_two_runs_in_one_second_write_two_files(tmp_path, monkeypatch):
    paths = []
    for start, text in ((1_764_700_000.25, "first run"), (1_764_700_000.65, "second run")):
        monkeypatch.setattr(run_log_module.time, "time", lambda start=start: start)
        with run_log(tmp_path, "txson", 2022, "fill") as path:
            logging.getLogger("pipeline").info(text)
        paths.append(path)
    assert paths[0] != paths[1] and paths[0] is not None and paths[1] is not None
    assert "second run" not in paths[0].read_text() and "second run" in paths[1].read_text()
    assert sorted(paths) == paths  # names sort in the order the runs started


def test_only_the_newest_logs_of_a_region_year_are_kept(tmp_path):
    for _ in range(KEEP + 3):
        with run_log(tmp_path, "txson", 2022, "fill"):
            pass
    assert len(list((tmp_path / "logs").glob("txson-2022-*.log"))) <= KEEP
