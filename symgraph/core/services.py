"""What the layers above lend to the graph code below them.

``core`` stands below everything, and ``ops`` below the compiler, the runtime and
autodiff, yet some of their code needs what is built above it:

* a tensor's operators (``x + y``, ``x @ w``, ``x[i]``, ``x.T``) and a graph's
  control dependencies build op nodes: ``symgraph.ops`` lends those builders;
* ops that run or differentiate graphs of their own (a loop compiles its body and
  builds its gradient from the body's; ``variable(tensor)`` and ``Tensor.eval``
  evaluate a tensor) need the runtime (``symgraph.runtime`` lends evaluation,
  compiled functions and the NumPy reference interpreter) and ``symgraph.autodiff``
  (gradients).

Each provider calls :func:`lend` as it is imported. A service asked for before its
provider was imported imports it first, by the module name in ``PROVIDERS``, so what a
call does never depends on what happens to have been imported already.
"""

from __future__ import annotations

import importlib

_OPS, _RUNTIME, _AUTODIFF = "symgraph.ops", "symgraph.runtime", "symgraph.autodiff"
#: service -> the module that lends it when imported
PROVIDERS = {
    "binary": _OPS, "unary": _OPS, "matmul": _OPS, "getitem": _OPS, "transpose": _OPS,
    "after": _OPS, "assigned_variable": _OPS,
    "evaluate": _RUNTIME, "compile_function": _RUNTIME, "reference_eval": _RUNTIME,
    "gradients": _AUTODIFF,
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
