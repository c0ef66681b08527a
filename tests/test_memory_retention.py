"""symgraph.runtime.memory: once a function is prepared, glibc keeps freed memory for
reuse, so every call's fresh buffers are not page-faulted in again (counted with
getrusage's minor faults in a new process, not timed)."""

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the policy tunes glibc's malloc")

CHILD = r"""
import json, resource, numpy as np
import symgraph.backend as K
from symgraph.runtime.memory import retain_freed_memory
x = K.placeholder((None, 8))
f = K.function([x], [x * 2.0])
f([np.ones((1, 8), "float32")])  # preparing a function applies the policy
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        arrays = [np.empty(1 << 20, np.float32) for _ in range(4)]  # 4 x 4 MB a round
        for a in arrays:
            a[:] = 1.0
        del arrays
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(json.dumps({"faults": faults(), "applied": retain_freed_memory()}))
"""

PAGES_TOUCHED = 20 * 4 * (4 << 20) // 4096


def _run(**env):
    full = {k: v for k, v in os.environ.items()
            if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", CHILD], env=full, capture_output=True,
                         text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_freed_buffers_are_reused_without_page_faults():
    result = _run()
    assert result["applied"]
    # glibc trimming its heap back to the OS faults most of these pages in each round
    # (GLIBC_TUNABLES=glibc.malloc.trim_threshold=1000: ~56 %); retained, a few %
    assert result["faults"] < 0.1 * PAGES_TOUCHED, result


def test_switched_off_or_tuned_by_the_user_malloc_is_left_alone():
    assert not _run(SYMGRAPH_RETAIN_MEMORY="0")["applied"]
    assert not _run(GLIBC_TUNABLES="glibc.malloc.trim_threshold=1000")["applied"]
    assert not _run(MALLOC_TRIM_THRESHOLD_="1000")["applied"]
