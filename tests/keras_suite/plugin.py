"""pytest plugin loaded (``-p tests.keras_suite.plugin``) into each Keras test process.

It installs the Python 3.11 / NumPy 2 / h5py 3 shims before Keras is imported, and
gives each Keras test a fresh default graph, as Keras's own conftest does only for the
TensorFlow and CNTK backends (without it, one process's graph grows test after test).
"""

from __future__ import annotations

import pytest

import symgraph.keras2_compat

symgraph.keras2_compat.install()


@pytest.fixture(autouse=True)
def _symgraph_fresh_graph():
    yield
    import symgraph.backend as K

    K.clear_session()
