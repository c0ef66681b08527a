"""Keras 2.3.1 models (``KERAS_BACKEND=symgraph.backend``) to graph files.

The saved graph is the model's inference graph, ``model.inputs -> model.outputs`` with
the learning phase at its default, 0 (Dropout off, BatchNormalization on its moving
statistics), and the weights as they are now. The file runs wherever symgraph does,
without Keras.
"""

from __future__ import annotations

import os

from ..errors import GraphFileError, docs_hint

BACKEND = "symgraph.backend"
_SETUP = docs_hint("errors", "keras-2-set-up")  # these errors and the set-up steps


def inference_function(model):
    """The compiled inference function of a Keras model built on symgraph.

    Args:
        model: a ``keras.Model`` (Sequential or functional) created with
            ``KERAS_BACKEND=symgraph.backend``.

    Returns:
        A :class:`~symgraph.runtime.function.Function` of ``model.inputs`` giving
        ``model.outputs`` (learning phase 0).
    """
    from ..core.tensor import Tensor
    from ..runtime.function import Function

    inputs, outputs = list(model.inputs), list(model.outputs)
    if not all(isinstance(t, Tensor) for t in inputs + outputs):
        raise GraphFileError("this Keras model was not built on symgraph: set "
                             f"KERAS_BACKEND={BACKEND} before importing keras; {_SETUP}")
    return Function(inputs, outputs, name=getattr(model, "name", None))


def save_keras_model(model, path) -> None:
    """Save a Keras model's inference graph and weights as a graph file.

    Example:
        >>> model = keras.models.load_model("model.h5")     # doctest: +SKIP
        >>> save_keras_model(model, "model.sg")              # doctest: +SKIP
        >>> symgraph.load("model.sg").predict(x)             # doctest: +SKIP
    """
    from . import save

    save(inference_function(model), path)


def convert_keras(h5_path, out_path) -> None:
    """Load a Keras 2.3.1 HDF5 model (``model.save``) and save it as a graph file.

    Sets ``KERAS_BACKEND=symgraph.backend`` when it is unset; another backend already
    chosen is an error, as is a Keras that is not installed.
    """
    chosen = os.environ.setdefault("KERAS_BACKEND", BACKEND)
    if chosen != BACKEND:
        raise GraphFileError(f"KERAS_BACKEND is {chosen!r}; convert-keras needs {BACKEND!r}; "
                             f"{_SETUP}")
    if not os.path.isfile(os.fspath(h5_path)):
        raise GraphFileError(f"{os.fspath(h5_path)}: no such file")
    try:
        import keras
    except ImportError:
        raise GraphFileError("convert-keras needs Keras 2.3.1: pip install "
                             f"'symgraph[keras2]'; {_SETUP}") from None
    if keras.backend.backend() != BACKEND:
        raise GraphFileError(f"keras was imported with the {keras.backend.backend()!r} "
                             f"backend; convert-keras needs {BACKEND!r}; {_SETUP}")
    try:
        model = keras.models.load_model(os.fspath(h5_path), compile=False)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GraphFileError(f"{os.fspath(h5_path)}: not a Keras model file "
                             f"({type(exc).__name__}: {exc})") from None
    save_keras_model(model, out_path)
