"""A Keras 2.3.1 model's inference graph saved to a graph file runs where Keras is not
installed (the second process cannot import keras), bit-identical to symgraph's own
function of the model and close to ``model.predict``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import needs_keras_231

ROOT = Path(__file__).resolve().parent.parent


pytestmark = needs_keras_231()

# the loading process: keras (and TensorFlow) cannot be imported there
NO_KERAS = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('keras', 'tensorflow', 'h5py'):
            raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, _Block())
import numpy as np, symgraph
out = sys.argv[1]
e = np.load(out + '/expected.npz')
mlp = symgraph.load(out + '/mlp.sg')
conv = symgraph.load(out + '/mlp_converted.sg')
rnn = symgraph.load(out + '/rnn.sg')
assert 'keras' not in sys.modules
np.savez(out + '/loaded.npz', mlp=mlp([e['x']])[0], converted=conv([e['x']])[0],
         rnn_0=rnn([e['s']])[0], rnn_1=rnn([e['s']])[1])
print('loaded without keras')
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("keras_graph_files")
    env = dict(os.environ, KERAS_BACKEND="symgraph.backend",
               KERAS_HOME=str(out / "keras_home"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "keras2_save_worker.py"),
                           str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    env.pop("KERAS_BACKEND")
    proc = subprocess.run([sys.executable, "-c", NO_KERAS, str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "loaded without keras" in proc.stdout
    return np.load(out / "expected.npz"), np.load(out / "loaded.npz")


def test_keras_mlp_runs_without_keras_bit_identical(saved):
    expected, loaded = saved
    assert loaded["mlp"].tobytes() == expected["mlp_symgraph"].tobytes()
    assert loaded["converted"].tobytes() == expected["mlp_symgraph"].tobytes()
    np.testing.assert_allclose(loaded["mlp"], expected["mlp_keras"], rtol=1e-5, atol=1e-6)


def test_keras_lstm_conv_model_runs_without_keras(saved):
    expected, loaded = saved
    for k in (0, 1):
        assert loaded[f"rnn_{k}"].tobytes() == expected[f"rnn_symgraph_{k}"].tobytes()
        np.testing.assert_allclose(loaded[f"rnn_{k}"], expected[f"rnn_keras_{k}"],
                                   rtol=1e-5, atol=1e-6)
