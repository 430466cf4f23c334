"""A log file per run under the data root: `DATA/logs/<region>-<year>-<command>-<UTC time>.log`,
with the terminal's lines plus the pipeline's and the model's DEBUG detail and, when a run
fails on a bug, its traceback. The newest `KEEP` files of a region-year are kept.

Nothing secret is logged anywhere: credentials are read by earthaccess and never formatted
into a message, so the file holds what the terminal shows and no more than that in kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEEP = 30  # log files per region-year
DETAILED = ("pipeline", "stimpute")  # loggers whose DEBUG lines the file keeps


def log_dir(root: Path) -> Path:
    return root / "logs"


@contextmanager
def run_log(root: Path, region: str, year: int, command: str) -> Iterator[Path | None]:
    """Copy every log line of the body into a new file; yields its path (None when the data
    root cannot hold one: the run goes on without it)."""
    now = time.time()  # to the millisecond: two runs in one second get files of their own
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    path = log_dir(root) / f"{region}-{year}-{command}-{stamp}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler | None = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = None
    if handler is None:
        yield None
        return
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root_logger = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in DETAILED}
    for name in DETAILED:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for other in root_logger.handlers:  # the terminal keeps its own level
        if other.level == logging.NOTSET:
            other.setLevel(root_logger.level)
    root_logger.addHandler(handler)
    try:
        yield path
    except Exception:
        logging.getLogger("pipeline").debug("the run failed", exc_info=True)
        raise
    finally:
        root_logger.removeHandler(handler)
        handler.close()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        _prune(path.parent, f"{region}-{year}-")


def _prune(folder: Path, prefix: str) -> None:
    """Keep the newest KEEP logs of one region-year."""
    logs = sorted(folder.glob(f"{prefix}*.log"))
    for old in logs[:-KEEP]:
        old.unlink(missing_ok=True)
