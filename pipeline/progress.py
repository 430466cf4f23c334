"""Progress of long loops: a rich bar on a terminal, a log line every tenth in logs and cron mail."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("pipeline")


class Ticker:
    def __init__(self, progress: Any, name: str, total: int, unit: str) -> None:
        self.name, self.total, self.unit, self.done = name, total, unit, 0
        self.start = time.perf_counter()
        self.bar = (
            progress if progress is not None and not getattr(progress, "disable", False) else None
        )
        self.task = self.bar.add_task(name, total=total) if self.bar is not None else None
        self.next_log = max(1, total // 10)

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.done >= self.next_log or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.done * (self.total - self.done)
            log.info(
                "%s: %d/%d %s, %.0fs, about %.0fs left",
                self.name,
                self.done,
                self.total,
                self.unit,
                elapsed,
                left,
            )
            self.next_log = self.done + max(1, self.total // 10)
