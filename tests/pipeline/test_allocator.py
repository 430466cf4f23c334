"""Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which makes glibc map every large
temporary afresh; tasks run by the pipeline's Runner set the allocator back (cluster.tune_allocator)."""

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import ctypes
import numpy as np
from pipeline.cluster import _task, tune_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2

def mapped_while_held(n):
    a = np.ones(n)  # n float64
    held = libc.mallinfo2().hblks
    del a
    return held

base = mapped_while_held(1)
print(mapped_while_held(1 << 18) - base)  # 2 MB
print(_task(mapped_while_held, 1 << 18) - base)  # as a task of the Runner runs it
"""


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc 2.33 or later")
def test_a_task_keeps_large_temporaries_off_fresh_mappings():
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "0"], out.stdout + out.stderr
