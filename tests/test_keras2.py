"""Keras 2.3.1 with ``KERAS_BACKEND=symgraph.backend`` (issue 4 part 4).

Runs only where Keras 2.3.1 is installed (``pip install -e '.[keras2]'``; see
docs/keras2.md). The models run in one separate process (tests/keras2_worker.py),
because Keras picks its backend from the environment when first imported; each test
below checks one scenario's results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import needs_keras_231

pytestmark = needs_keras_231()

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "keras2_worker.py"


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "symgraph.backend"
    env["KERAS_HOME"] = str(tmp_path / "keras_home")  # Keras writes keras.json there
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("keras2")
    out = tmp / "results.json"
    proc = subprocess.run([sys.executable, str(WORKER), str(out)], env=_env(tmp),
                          capture_output=True, text=True, timeout=900)
    if not out.exists():
        pytest.fail(f"the Keras worker wrote nothing (exit {proc.returncode}):\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return json.loads(out.read_text())


def _scenario(results: dict, name: str) -> dict:
    r = results.get(name)
    assert r is not None, f"scenario {name} did not run (the worker stopped before it)"
    assert r["ok"], f"{name} raised:\n{r['error']}"
    return r


def test_plain_import_applies_the_compat_module(tmp_path):
    # no explicit `import symgraph.keras2_compat`: symgraph.backend applies it when
    # Keras is the one importing it
    code = ("import keras, keras.backend as K, keras.callbacks, keras.engine.saving; "
            "print(keras.__version__, K.backend(), K.floatx(), K.epsilon(), "
            "K.image_data_format())")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.split() == ["2.3.1", "symgraph.backend", "float32", "1e-07",
                                   "channels_last"]
    assert "Using symgraph.backend backend." in proc.stderr


def test_backend_defaults_match_keras(results):
    assert results["backend"] == "symgraph.backend"
    assert (results["floatx"], results["epsilon"], results["image_data_format"]) == (
        "float32", 1e-7, "channels_last")
    import symgraph.backend as K

    assert (K.floatx(), K.epsilon(), K.image_data_format()) == (
        "float32", 1e-7, "channels_last")


def _check_trained(r: dict, n: int, out_dim: int, metric: str, ratio: float) -> None:
    assert r["metrics_names"] == ["loss", metric]
    hist = r["history"]["loss"]
    assert all(v == v for v in hist), hist  # no NaN
    assert r["after"][0] < ratio * r["before"][0], (r["before"], r["after"], hist)
    assert hist[-1] < hist[0], hist
    assert r["pred_shape"] == [n, out_dim]
    assert r["pred_finite"]
    assert r["zeroed_differs"], "zeroing the weights should change the predictions"
    assert r["weights_restored"] and r["pred_after_load_equal"]
    assert r["weights_restored_by_name"]


def test_sequential_mlp_sgd(results):
    r = _scenario(results, "mlp_sgd")
    _check_trained(r, 96, 1, "accuracy", 0.8)
    assert r["after"][1] > 0.85  # linearly separable


def test_functional_adam_and_twin_layers(results):
    r = _scenario(results, "functional_adam")
    _check_trained(r, 96, 1, "mae", 0.8)
    assert "twin_a" in r["layers"] and "twin_b" in r["layers"], r["layers"]


def test_cnn_conv_batchnorm_pool_adam(results):
    r = _scenario(results, "cnn_adam")
    _check_trained(r, 48, 2, "accuracy", 0.5)
    assert r["bn_moving_mean_moved"]


@pytest.mark.parametrize("name", ["simple_rnn_rmsprop", "lstm_rmsprop", "gru_rmsprop"])
def test_embedding_recurrent_rmsprop(results, name):
    r = _scenario(results, name)
    _check_trained(r, 64, 2, "sparse_categorical_accuracy", 0.5)


def test_learning_phase_reaches_dropout_and_batchnorm(results):
    r = _scenario(results, "learning_phase")
    assert r["uses_learning_phase"]
    assert r["train_random"] and r["test_deterministic"] and r["test_matches_predict"]
    # 8 updates with momentum 0.99 move the moving mean about 8% of the way to the data mean.
    for moved, target in zip(r["moving_mean"], r["data_mean"]):
        assert abs(moved) > 0.02 * abs(target), (r["moving_mean"], r["data_mean"])
        assert moved * target > 0


def test_whole_model_save_and_load_model(results):
    r = _scenario(results, "whole_model_save")
    assert r["history_keys"] == ["loss", "mae", "val_loss", "val_mae"]
    assert r["same_predictions"]
    assert r["iterations"] == [9, 9]  # 3 epochs of 3 batches (24 training rows, batch 8)
    assert r["iterations_after_fit"] == 13  # the restored Adam state goes on
