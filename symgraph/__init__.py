"""symgraph: a lazy symbolic tensor backend with the Keras backend API.

``import symgraph.backend as K`` for the Keras API. Calls build graph nodes with
static shapes and dtypes; ``K.eval`` and ``K.function`` compile and run only what
the requested outputs need, as numba kernels.
"""

from ._version import __version__

__all__ = ["__version__", "Tensor", "Graph", "function", "get_default_graph", "load", "save"]


def __getattr__(name):  # keep ``import symgraph`` light: load on first use
    if name in ("Tensor", "Placeholder", "Variable", "Constant"):
        from .core import tensor

        return getattr(tensor, name)
    if name in ("Graph", "get_default_graph"):
        from .core import graph

        return getattr(graph, name)
    if name in ("save", "load"):
        from . import io

        return getattr(io, name)
    if name == "io":
        import importlib

        return importlib.import_module(".io", __name__)
    if name == "function":
        from .runtime.function import function

        return function
    raise AttributeError(f"module 'symgraph' has no attribute {name!r}")
