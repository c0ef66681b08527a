"""What the layers above lend to the code below them.

``core`` stands below everything, ``ops`` below the compiler, the runtime and
autodiff, and the runtime below ``inspect``, ``io`` and ``dask``, yet some of their
code needs what is built above it:

* a tensor's operators (``x + y``, ``x @ w``, ``x[i]``, ``x.T``) and a graph's
  control dependencies build op nodes: ``symgraph.ops`` lends those builders;
* ops that run or differentiate graphs of their own (a loop compiles its body and
  builds its gradient from the body's; ``variable(tensor)`` and ``Tensor.eval``
  evaluate a tensor) need the runtime (``symgraph.runtime`` lends evaluation,
  compiled functions and the NumPy reference interpreter) and ``symgraph.autodiff``
  (gradients);
* a compiled function's views (``f.kernels()``, ``f.source()``, ``f.memory_plan()``,
  ``f.profile()`` and its summary table in Jupyter) are ``symgraph.inspect``'s, and
  ``f.to_dask()`` is ``symgraph.dask``'s: dask is an optional dependency, so without
  it the first ``to_dask`` raises the ImportError of ``symgraph.dask`` that names
  the extra to install;
* tier 0's compile child (``runtime.compile_worker``) writes and reads graph files:
  ``symgraph.io`` lends ``dumps`` and ``load``.

Each provider calls :func:`lend` as it is imported. A service asked for before its
provider was imported imports it first, by the module name in ``PROVIDERS``, so what a
call does never depends on what happens to have been imported already.
"""

from __future__ import annotations

import importlib
from typing import Any

_OPS, _RUNTIME, _AUTODIFF = "symgraph.ops", "symgraph.runtime", "symgraph.autodiff"
_INSPECT, _IO, _DASK = "symgraph.inspect", "symgraph.io", "symgraph.dask"
#: service -> the module that lends it when imported
PROVIDERS = {
    "binary": _OPS, "unary": _OPS, "matmul": _OPS, "getitem": _OPS, "transpose": _OPS,
    "after": _OPS, "assigned_variable": _OPS,
    "evaluate": _RUNTIME, "compile_function": _RUNTIME, "reference_eval": _RUNTIME,
    "gradients": _AUTODIFF,
    "plan_kernels": _INSPECT, "kernel_source": _INSPECT, "memory_plan": _INSPECT,
    "summary": _INSPECT, "profile": _INSPECT,
    "dumps": _IO, "load": _IO,
    "map_blocks": _DASK,
}
_lent: dict = {}


def lend(**implementations) -> None:
    """Called by a provider as it is imported: ``lend(evaluate=evaluate, ...)``."""
    unknown = set(implementations) - set(PROVIDERS)
    if unknown:
        raise ValueError(f"no such service: {', '.join(sorted(unknown))}")
    _lent.update(implementations)


def provided(name: str):
    """The implementation of service ``name`` (its provider imported if it was not)."""
    found = _lent.get(name)
    if found is None:
        importlib.import_module(PROVIDERS[name])
        found = _lent[name]
    return found


def evaluate(x):
    """The value of ``x`` as a NumPy array (``K.eval``)."""
    return provided("evaluate")(x)


def compile_function(inputs, outputs, name: str | None = None, inner: bool = False):
    """A compiled function of ``inputs`` computing ``outputs`` (``K.function``);
    ``inner``: the step function of a loop op (interpreted while its caller is, compiled
    when its caller's kernels are: ``runtime.tiered``)."""
    return provided("compile_function")(inputs, outputs, name=name, inner=inner)


def reference_eval(outputs, feeds: dict | None = None) -> list:
    """``outputs`` evaluated by the NumPy reference interpreter; ``feeds`` maps
    placeholders to arrays."""
    return provided("reference_eval")(outputs, feeds)


def gradients(loss, wrt) -> list:
    """Gradients of ``loss`` with respect to each tensor of ``wrt`` (``K.gradients``)."""
    return provided("gradients")(loss, wrt)


def plan_kernels(plan) -> list:
    """The kernels of a compiled plan in execution order (``Function.kernels``)."""
    return provided("plan_kernels")(plan)


def kernel_source(fn, kernel) -> str:
    """The generated source of one kernel of the compiled function ``fn``."""
    return provided("kernel_source")(fn, kernel)


def memory_plan(fn, input_shapes=None, batch_size: int = 1):
    """The buffers one call of ``fn`` allocates for these input shapes."""
    return provided("memory_plan")(fn, input_shapes, batch_size)


def summary(x):
    """The summary table of a tensor, tensors or compiled function."""
    return provided("summary")(x)


def profile(fn, inputs, repeat: int = 5) -> dict:
    """Median seconds per kernel of ``fn`` over ``repeat`` calls on ``inputs``."""
    return provided("profile")(fn, inputs, repeat)


def dumps(obj) -> bytes:
    """The bytes of the graph file of the compiled function ``obj``."""
    return provided("dumps")(obj)


def load(path):
    """The compiled function in the graph file ``path``."""
    return provided("load")(path)


def map_blocks(fn, *arrays) -> Any:
    """Lazy dask arrays of ``fn``'s outputs (a list, or one array for a one-output
    function) over dask arrays chunked along axis 0; without dask, the ImportError that
    names the extra to install."""
    return provided("map_blocks")(fn, *arrays)
