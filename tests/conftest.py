"""Shared test setup: a private kernel cache directory and a fresh graph per test."""

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="symgraph-test-cache-")
os.environ.setdefault("SYMGRAPH_CACHE_DIR", _CACHE)
# the suite tests the compiled kernels: functions compile before their first call
# returns (tests/test_tiered.py switches tier 0 on where it is what is tested)
os.environ.setdefault("SYMGRAPH_TIERED", "0")
# and the kernels' thread counts must not follow the load of a shared CI machine
# (tests/test_load.py switches the load policy on where it is what is tested)
os.environ.setdefault("SYMGRAPH_ADAPTIVE_THREADS", "0")
# numba's thread pool needs two threads for the thread-count tests, even on one core
# (numba is imported lazily, after this line)
if int(os.environ.get("NUMBA_NUM_THREADS", "0") or 0) < 2:
    os.environ["NUMBA_NUM_THREADS"] = str(max(2, os.cpu_count() or 1))

import symgraph.backend as K  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="run the long fuzz (tests/test_fuzz.py: 20,000 random graphs)")


def pytest_configure(config):
    if config.getoption("--long"):  # read by tests/test_fuzz.py when it is imported
        os.environ["SYMGRAPH_FUZZ_LONG"] = "1"

from symgraph import config  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts with a new default graph and default settings."""
    K.clear_session()
    yield
    config.set_floatx("float32")
    config.set_epsilon(1e-7)
    config.set_image_data_format("channels_last")
