"""The runtime: compiled functions, feeds, evaluation and the NumPy reference.

Importing it lends evaluation, compiled functions and the reference interpreter to the
graph code below it (:mod:`symgraph.core.services`)."""

from ..core import services
from .evaluate import evaluate
from .reference import reference_eval


def _compile_function(inputs, outputs, name=None, inner=False):
    from .function import Function  # the compiler and all: loaded when first needed

    return Function(inputs, outputs, name=name, inner=inner)


services.lend(evaluate=evaluate, compile_function=_compile_function,
              reference_eval=reference_eval)
