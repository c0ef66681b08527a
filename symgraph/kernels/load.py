"""How many cores this process can use right now: one thread policy for numba and BLAS.

A parallel kernel split over two threads on two cores, one of which another process
keeps busy, waits for the half that shares its core: measured on 2 cores, a training
step ran 2.4x slower with the default thread counts than with one thread while one
other process spun (``benchmarks/bench_threads.py``). So the thread counts follow the
load: every :data:`INTERVAL` seconds at most, :func:`usable_cores` reads how busy the
CPUs this process may run on were since the last look (``/proc/stat``), subtracts this
process's own share (``/proc/self/stat``), and keeps the cores left free: a core
counts as taken once other processes keep it >= 65 % busy (at least 1 is left).
numba's parallel kernels launch with at most that many threads
(``kernels.parallelism.launch``) and NumPy's OpenBLAS is set to it
(:func:`symgraph.kernels.blas.adapt`) whenever it changes. A compile child of tier 0
(``runtime.compile_worker``) is another process too: while it runs, the calls beside
it use the cores it leaves.

* Kernel results never depend on their thread count (fixed chunks, fixed combination
  order). BLAS products can differ in the last bits between thread counts: set
  ``OPENBLAS_NUM_THREADS`` (or ``SYMGRAPH_NUM_THREADS``, ``OMP_NUM_THREADS``) to pin
  them, and the policy leaves BLAS alone.
* ``SYMGRAPH_ADAPTIVE_THREADS=0`` switches the policy off (every core counts as free).
* Without ``/proc`` (not Linux) every core the process may use counts as free.
"""

from __future__ import annotations

import math
import os
import threading
import time

__all__ = ["INTERVAL", "available_cores", "usable_cores"]

#: seconds between two looks at the CPUs' load (reading /proc costs ~30 us)
INTERVAL = 0.25


def available_cores() -> int:
    """Return the number of CPUs this process may run on (``>= 1``).

    ``len(os.sched_getaffinity(0))`` where the OS has it (it honours ``taskset`` and
    container CPU sets), else ``os.cpu_count()``.

    Example:
        >>> from symgraph.kernels.load import available_cores
        >>> available_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class _Monitor:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_look = 0.0
        self.last = None  # (wall clock, busy ticks of our CPUs, our own ticks)
        self.usable = 0
        self.enabled = os.environ.get("SYMGRAPH_ADAPTIVE_THREADS", "1").strip().lower() \
            not in ("0", "false", "no", "off")
        try:
            self.cpus = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            self.cpus = list(range(os.cpu_count() or 1))
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def sample(self):
        """``(busy ticks of this process's CPUs, this process's ticks)`` or None."""
        wanted = {f"cpu{i}" for i in self.cpus}
        busy = 0
        with open("/proc/stat") as fh:
            for line in fh:
                if not line.startswith("cpu") or line.startswith("cpu "):
                    continue
                fields = line.split()
                if fields[0] in wanted:
                    values = [int(v) for v in fields[1:9]]
                    busy += sum(values) - values[3] - values[4]  # all but idle, iowait
        with open("/proc/self/stat") as fh:
            stat = fh.read()
        own = stat[stat.rindex(")") + 2:].split()  # fields after the command name
        return busy, int(own[11]) + int(own[12])  # utime + stime

    def look(self, now: float) -> int:
        cores = len(self.cpus) or 1
        try:
            busy, own = self.sample()
        except (OSError, ValueError, IndexError):
            self.enabled = False
            return cores
        last, self.last = self.last, (now, busy, own)
        if last is None:
            return self.usable or cores
        seconds = now - last[0]
        others = ((busy - last[1]) - (own - last[2])) / (seconds * self.tick)
        # a core counts as taken once others keep it at least 65 % busy
        return max(1, min(cores, math.floor(cores - max(0.0, others) + 0.35)))


_MONITOR = _Monitor()
_LISTENERS: list = []  # called with the new count when it changes (kernels.blas.adapt)


def usable_cores() -> int:
    """Return the cores other processes leave free for this one (``>= 1``), looked up
    at most every :data:`INTERVAL` seconds (a clock read otherwise).

    Example:
        >>> from symgraph.kernels.load import available_cores, usable_cores
        >>> 1 <= usable_cores() <= available_cores()
        True
    """
    monitor = _MONITOR
    now = time.monotonic()
    if now < monitor.next_look:
        return monitor.usable
    if not monitor.enabled:
        monitor.usable = available_cores()
        monitor.next_look = float("inf")
        return monitor.usable
    with monitor.lock:
        if now >= monitor.next_look:
            usable = monitor.look(now)
            monitor.next_look = now + INTERVAL
            if usable != monitor.usable:
                monitor.usable = usable
                for listener in _LISTENERS:
                    listener(usable)
    return monitor.usable


def _size_blas(n: int) -> None:
    from . import blas

    blas.adapt(n)


_LISTENERS.append(_size_blas)
