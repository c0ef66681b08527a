"""Keras 2.3.1 on symgraph: model scenarios run in a fresh process by tests/test_keras2.py.

Usage: ``KERAS_BACKEND=symgraph.backend python tests/keras2_worker.py OUT.json [NAME...]``.
Each scenario builds, compiles and trains a small model on generated data and records
numbers (losses before/after, shapes, weight round trips) or the error's traceback; the
test judges them. Keras reads KERAS_BACKEND when it is first imported, hence a process
of its own.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback

import numpy as np

import symgraph.keras2_compat

symgraph.keras2_compat.install()  # before keras (Python 3.10+, NumPy 2, h5py 3); idempotent

import keras  # noqa: E402
from keras import backend as K  # noqa: E402, N812
from keras import layers as L  # noqa: E402, N812
from keras import optimizers  # noqa: E402
from keras.models import Model, Sequential  # noqa: E402

RNG = np.random.RandomState(0)


def _fit_and_check(model, x, y, epochs: int, batch_size: int = 16) -> dict:
    """Evaluate, fit, evaluate, predict, save/load weights; return what happened."""
    before = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    after = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    pred = model.predict(x, batch_size=7)  # 7 does not divide len(x): a ragged last batch
    weights = model.get_weights()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "weights.h5")
        model.save_weights(path)
        model.set_weights([np.zeros_like(w) for w in weights])
        zeroed = model.predict(x, batch_size=7)
        model.load_weights(path)
        restored = model.get_weights()
        pred_loaded = model.predict(x, batch_size=7)
        model.set_weights([np.zeros_like(w) for w in weights])
        model.load_weights(path, by_name=True)
        restored_by_name = model.get_weights()
    return {
        "metrics_names": list(model.metrics_names),
        "before": [float(v) for v in np.atleast_1d(before)],
        "after": [float(v) for v in np.atleast_1d(after)],
        "history": {k: [float(v) for v in vals] for k, vals in hist.history.items()},
        "pred_shape": list(pred.shape),
        "pred_finite": bool(np.all(np.isfinite(pred))),
        "zeroed_differs": bool(not np.allclose(zeroed, pred)),
        "weights_restored": all(np.array_equal(a, b) for a, b in zip(weights, restored)),
        "weights_restored_by_name": all(np.array_equal(a, b)
                                        for a, b in zip(weights, restored_by_name)),
        "pred_after_load_equal": bool(np.array_equal(pred, pred_loaded)),
        "layers": [layer.name for layer in model.layers],
    }


def mlp_sgd() -> dict:
    x = RNG.randn(96, 4).astype("float32")
    y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
    model = Sequential([L.Dense(16, input_shape=(4,)), L.Activation("relu"), L.Dropout(0.1),
                        L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return _fit_and_check(model, x, y, epochs=10)


def functional_adam() -> dict:
    inp = L.Input((4,))
    hidden = L.Dense(8)(inp)
    # Two layers computing the same thing from one tensor: each must keep its own output.
    left = L.Activation("tanh", name="twin_a")(hidden)
    right = L.Activation("tanh", name="twin_b")(hidden)
    merged = L.concatenate([left, right, L.Dense(8, activation="relu")(inp)])
    model = Model(inp, L.Dense(1)(merged))
    model.compile(optimizer=optimizers.Adam(lr=0.01), loss="mse", metrics=["mae"])
    x = RNG.randn(96, 4).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")
    return _fit_and_check(model, x, y, epochs=10)


def cnn_adam() -> dict:
    x = RNG.rand(48, 8, 8, 1).astype("float32")
    x[:24, :4] += 0.5  # class 0: bright top half
    x[24:, 4:] += 0.5
    y = keras.utils.to_categorical(np.repeat([0, 1], 24), 2)
    model = Sequential([
        L.Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
        L.BatchNormalization(momentum=0.8),  # moving stats settle within 24 updates
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=optimizers.Adam(lr=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    out = _fit_and_check(model, x, y, epochs=8)
    bn = model.layers[1]
    out["bn_moving_mean_moved"] = bool(np.any(K.get_value(bn.moving_mean) != 0))
    return out


def _recurrent(cell) -> dict:
    x = RNG.randint(1, 10, size=(64, 6))
    y = (x[:, -1] > 5).astype("int32")
    model = Sequential([L.Embedding(10, 4, input_length=6), cell(8),
                        L.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.RMSprop(lr=0.03), loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return _fit_and_check(model, x, y, epochs=10)


def simple_rnn_rmsprop() -> dict:
    return _recurrent(L.SimpleRNN)


def lstm_rmsprop() -> dict:
    return _recurrent(L.LSTM)


def gru_rmsprop() -> dict:
    return _recurrent(L.GRU)


def learning_phase() -> dict:
    """Dropout and BatchNormalization see the learning phase Keras feeds."""
    x = RNG.randn(64, 4).astype("float32") * 3 + 1
    model = Sequential([L.BatchNormalization(input_shape=(4,)), L.Dropout(0.5), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x[:, :1], epochs=2, batch_size=16, verbose=0)
    run = K.function([model.input, K.learning_phase()], [model.output])
    train_a, train_b = run([x, 1])[0], run([x, 1])[0]
    test_a, test_b = run([x, 0])[0], run([x, 0])[0]
    return {
        "uses_learning_phase": bool(model.uses_learning_phase),
        "train_random": bool(not np.array_equal(train_a, train_b)),
        "test_deterministic": bool(np.array_equal(test_a, test_b)),
        "test_matches_predict": bool(np.allclose(test_a, model.predict(x), atol=1e-6)),
        "moving_mean": [float(v) for v in K.get_value(model.layers[0].moving_mean)],
        "data_mean": [float(v) for v in x.mean(axis=0)],
    }


def whole_model_save() -> dict:
    """model.save / load_model (architecture, weights, optimizer state), and a callback
    that uses np.Inf."""
    from keras.callbacks import EarlyStopping
    from keras.models import load_model

    x = RNG.rand(32, 3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = Sequential([L.Dense(4, input_shape=(3,), activation="relu"), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25,
                     callbacks=[EarlyStopping(monitor="val_loss", patience=5)])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.h5")
        model.save(path)
        loaded = load_model(path)
    same = bool(np.array_equal(model.predict(x), loaded.predict(x)))
    iterations = [int(K.get_value(model.optimizer.iterations)),
                  int(K.get_value(loaded.optimizer.iterations))]
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return {
        "history_keys": sorted(hist.history),
        "same_predictions": same,
        "iterations": iterations,
        "iterations_after_fit": int(K.get_value(loaded.optimizer.iterations)),
        "layers": [layer.name for layer in loaded.layers],
    }


SCENARIOS = {f.__name__: f for f in (mlp_sgd, functional_adam, cnn_adam, simple_rnn_rmsprop,
                                     lstm_rmsprop, gru_rmsprop, learning_phase,
                                     whole_model_save)}


def main(argv: list[str]) -> None:
    out_path, names = argv[0], argv[1:] or list(SCENARIOS)
    results = {"backend": K.backend(), "keras_version": keras.__version__,
               "floatx": K.floatx(), "epsilon": K.epsilon(),
               "image_data_format": K.image_data_format()}
    for name in names:
        try:
            results[name] = {"ok": True, **SCENARIOS[name]()}
        except Exception:  # recorded for the test to report
            results[name] = {"ok": False, "error": traceback.format_exc()}
        with open(out_path, "w") as f:  # after each: a crash still leaves the earlier ones
            json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1:])
