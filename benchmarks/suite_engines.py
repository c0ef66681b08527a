"""Engines compared by ``benchmarks/suite.py``: which are installed, and their labels.

Every engine is optional except NumPy (the baseline) and symgraph. Imports are done
lazily, so that ``suite.py`` can pin the thread count before any of them loads.
"""

from __future__ import annotations

import importlib
import os

ENGINES = ("numpy", "symgraph", "pytensor_c", "pytensor_numba", "jax", "numexpr")
LABELS = {
    "numpy": "NumPy",
    "symgraph": "symgraph",
    "pytensor_c": "PyTensor C",
    "pytensor_numba": "PyTensor NUMBA",
    "jax": "JAX jit",
    "numexpr": "numexpr",
}

# Environment for one thread everywhere; set before NumPy/numba/JAX are imported.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS",
               "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def single_thread_env(env: dict | None = None) -> dict:
    """A copy of ``env`` (default ``os.environ``) with every thread pool set to one."""
    env = dict(os.environ if env is None else env)
    for var in THREAD_VARS:
        env[var] = "1"
    flags = env.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        env["XLA_FLAGS"] = (flags + " " + XLA_ONE_THREAD).strip()
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def pin_single_thread() -> None:
    """Set the one-thread environment in this process (call before heavy imports)."""
    os.environ.update(single_thread_env())


def availability(engines=ENGINES) -> dict[str, str | None]:
    """``{engine: None if usable else the reason it is skipped}``."""
    out: dict[str, str | None] = {}
    for name in engines:
        try:
            if name in ("numpy", "symgraph"):
                importlib.import_module(name)
            elif name == "numexpr":
                ne = importlib.import_module("numexpr")
                ne.set_num_threads(1)
            elif name == "jax":
                importlib.import_module("jax")
            elif name.startswith("pytensor"):
                pytensor = importlib.import_module("pytensor")
                if name == "pytensor_c" and not pytensor.config.cxx:
                    raise RuntimeError("no C++ compiler configured (pytensor.config.cxx)")
                if name == "pytensor_numba":
                    importlib.import_module("numba")
            else:
                raise ValueError(f"unknown engine {name!r}")
            out[name] = None
        except Exception as exc:  # noqa: BLE001 - any import failure means "skip it"
            out[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return out


def versions() -> dict[str, str]:
    """Versions of the libraries that are importable."""
    found = {}
    for mod in ("numpy", "numba", "llvmlite", "scipy", "pytensor", "jax", "jaxlib", "numexpr"):
        try:
            found[mod] = importlib.import_module(mod).__version__
        except Exception:  # noqa: BLE001
            pass
    return found


def pytensor_mode(engine: str) -> str:
    return "NUMBA" if engine == "pytensor_numba" else "FAST_RUN"
