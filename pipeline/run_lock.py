"""One run at a time per region-year.

Every command that writes under `DATA/<region>/<year>/` holds `DATA/<region>/.<year>.lock`
(an OS file lock from the `filelock` package, so a run that is killed releases it with its
process and never blocks the next one) and records who holds it in `.<year>.lock.json` beside
it. Holding it, the run first puts right what a crashed one left (files.clean_leftovers).
A second run either stops at once with a BusyError (exit 75: try again later) naming the
running one, or, with `--wait`, waits for it to finish. Keep the data folder on a local disk:
OS file locks are not reliable on every network file system.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from pipeline.errors import BusyError, PipelineError
from pipeline.files import clean_leftovers, replacing

log = logging.getLogger("pipeline")


def lock_path(root: Path, region: str, name: str) -> Path:
    """The lock of `name` (a year, or "models") of `region` under the data root."""
    return root / region / f".{name}.lock"


def holder(path: Path) -> dict[str, object]:
    """What the running holder of the lock at `path` wrote about itself ({} if unknown)."""
    try:
        return json.loads(path.with_name(path.name + ".json").read_text())
    except (OSError, ValueError):
        return {}


@contextmanager
def one_run(root: Path, region: str, name: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the lock of `region`/`name` for the body; BusyError at once if another run holds it
    (unless `wait`)."""
    path = lock_path(root, region, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PipelineError(
            f"cannot create {path.parent} ({exc.strerror}): give --data a writable directory"
        ) from None
    lock = FileLock(path)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        who = holder(path)
        since = who.get("started", "an unknown time")
        raise BusyError(
            f"{region} {name} is being processed by another run (PID {who.get('pid', '?')} on "
            f"{who.get('host', '?')}, started {since}): try again later, or add --wait to queue"
        ) from None
    info = path.with_name(path.name + ".json")
    try:
        for line in clean_leftovers(root / region / name):
            log.info("after an earlier crash: %s", line)
        with replacing(info) as tmp:
            tmp.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                        "command": " ".join(
                            Path(a).name if i == 0 else a for i, a in enumerate(sys.argv)
                        ),
                    }
                )
            )
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()
