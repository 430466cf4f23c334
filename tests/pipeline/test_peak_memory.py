"""A stage's recorded peak memory is its own, not that of the process that started it."""

import subprocess
import sys

import numpy as np

from pipeline.provenance import peak_rss_mb


def test_a_process_started_by_a_big_one_reports_its_own_peak():
    held = np.ones(200 * 2**20 // 8)  # 200 MB in this process
    held[::4096] = 2.0  # touched: resident
    parent = peak_rss_mb()
    code = "from pipeline.provenance import peak_rss_mb; print(peak_rss_mb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    child = float(out.stdout)
    assert parent > 200 and child < parent - 150, (parent, child)
