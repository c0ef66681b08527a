"""pytest plugin loaded (``-p tests.keras_suite.plugin``) into each Keras test process.

It installs the Python 3.11 / NumPy 2 / h5py 3 shims before Keras is imported, and
gives each Keras test a fresh default graph, as Keras's own conftest does only for the
TensorFlow and CNTK backends (without it, one process's graph grows test after test).

Keras 2.3.1's *tests* (not its library) also assume pytest < 8 and h5py 2, and one
assumes Theano's image layout on every backend but TensorFlow and CNTK; the fixtures
below give those tests what they assume, each with its reason. Keras's own code gets
only what ``symgraph.keras2_compat`` does for every user.
"""

from __future__ import annotations

import types

import pytest

import symgraph.keras2_compat

symgraph.keras2_compat.install()


# Tests written for Theano's layout: test_load_layers builds a (10, 1, 20, 20) input,
# channels first, for every backend but TensorFlow and CNTK, under Keras's default
# channels_last (Theano never checks a convolution's shapes while building, symgraph
# does). It runs with the layout it was written for.
CHANNELS_FIRST = {"tests/keras/engine/test_topology.py::test_load_layers"}


@pytest.fixture(autouse=True)
def _symgraph_fresh_graph(request, monkeypatch):
    import keras.backend as keras_backend

    import symgraph.backend as K

    module = request.module
    if getattr(module, "h5py", None) is not None and \
            not isinstance(module.h5py, _H5py2Defaults):
        monkeypatch.setattr(module, "h5py", _H5py2Defaults(module.h5py))
    layout = keras_backend.image_data_format()
    if request.node.nodeid in CHANNELS_FIRST:
        keras_backend.set_image_data_format("channels_first")
        K.set_image_data_format("channels_first")
    yield
    keras_backend.set_image_data_format(layout)
    K.set_image_data_format(layout)
    K.clear_session()


class _H5py2Defaults(types.ModuleType):
    """``h5py`` as seen by a Keras test module: ``File`` opens in mode 'a' when given no
    mode, as h5py 2 did (test_model_saving.py opens ``h5py.File('does not matter',
    driver='core', backing_store=False)``; h5py 3 opens it read-only and fails). Every
    other name is h5py's own; Keras's library code keeps the real module."""

    def __init__(self, h5py):
        super().__init__("h5py")
        self._h5py = h5py

    def __getattr__(self, name):
        return getattr(self._h5py, name)

    def File(self, name, mode=None, *args, **kwargs):  # noqa: N802  (h5py's name)
        return self._h5py.File(name, "a" if mode is None else mode, *args, **kwargs)


def _warns(expected_warning=Warning, *args, **kwargs):
    """``pytest.warns(None)``, which Keras's tests use to assert that *no* warning was
    raised, was removed in pytest 8; it recorded every warning without checking any.
    Give that call its old meaning; every other call is pytest's own."""
    if expected_warning is None:
        from _pytest.recwarn import WarningsRecorder

        return WarningsRecorder(_ispytest=True)
    return _PYTEST_WARNS(expected_warning, *args, **kwargs)


_PYTEST_WARNS = pytest.warns
pytest.warns = _warns
