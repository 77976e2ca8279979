"""The numba backend's threaded kernels give the same numbers on 1 and 2 threads (a threaded
loss sums its blocks in block order: ``parts.sum()`` inside the parallel kernel became a
per-thread reduction, 1 ulp apart), and Python threads may launch the fused linear+activation
forward at once on Numba's workqueue layer (it skipped the launch lock and aborted the
process)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

numba = pytest.importorskip("numba")
if not backend_report().get("numba", {"available": False})["available"]:
    pytest.skip("the numba backend is unavailable", allow_module_level=True)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread here")
@pytest.mark.parametrize("seed", range(4))
def test_threaded_loss_sums_do_not_depend_on_the_thread_count(seed):
    n = (1 << 21) + 1                       # above the size that runs threaded
    rng = np.random.default_rng(seed)
    x = xg.asarray(rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n), backend="numba")
    zeros = xg.zeros(n, dtype=xg.float64, backend="numba")
    before = numba.get_num_threads()
    try:
        sums = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            sums.append(xg.losses.mse(x, zeros, reduction="sum").item())
    finally:
        numba.set_num_threads(before)
    assert sums[0] == sums[1]


_WORKQUEUE = textwrap.dedent("""
    import threading
    import numpy as np
    import xpgrad as xg
    r = np.random.default_rng(0)
    x = xg.asarray(r.standard_normal((1024, 256)).astype("f4"), backend="numba")
    w = xg.asarray(r.standard_normal((256, 1024)).astype("f4"), backend="numba")
    b = xg.zeros(1024, backend="numba")
    want = xg.nn.linear(x, w, b, activation="relu").numpy()
    bad = []
    def run():
        for _ in range(20):
            if not (xg.nn.linear(x, w, b, activation="relu").numpy() == want).all():
                bad.append(1)
    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("ok" if not bad else "wrong")
""")


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread here")
def test_threads_share_the_fused_linear_forward_on_workqueue():
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", NUMBA_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", _WORKQUEUE], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
