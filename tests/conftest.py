"""Shared test setup: a private kernel cache directory and a fresh graph per test."""

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="symgraph-test-cache-")
os.environ.setdefault("SYMGRAPH_CACHE_DIR", _CACHE)

import symgraph.backend as K  # noqa: E402
from symgraph import config  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts with a new default graph and default settings."""
    K.clear_session()
    yield
    config.set_floatx("float32")
    config.set_epsilon(1e-7)
    config.set_image_data_format("channels_last")
