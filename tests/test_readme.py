"""The README's first example, exactly as a user types it."""

import re
from pathlib import Path

import numpy as np

import symgraph.backend as K


def test_readme_first_example():
    kvar = K.variable(np.random.random((2, 3)))
    kvar_zeros = K.zeros_like(kvar)
    assert (K.int_shape(kvar_zeros), K.dtype(kvar_zeros)) == ((2, 3), "float32")
    value = K.eval(kvar_zeros)
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, np.zeros((2, 3), dtype=np.float32))


def test_readme_code_blocks_run():
    """Every python block of the README runs (``batches`` is provided)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    rng = np.random.default_rng(0)
    namespace = {"batches": [rng.random((n, 784)).astype("float32") for n in (3, 5)],
                 "labelled_batches": [(rng.random((8, 784)).astype("float32") / 100,
                                       np.eye(10, dtype="float32")[rng.integers(0, 10, 8)])
                                      for _ in range(20)]}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["p"].shape == (5, 10)
    assert np.isfinite(namespace["batch_loss"])
