"""Run by tests/test_graph_files_keras.py with KERAS_BACKEND=symgraph.backend: builds
Keras 2.3.1 models, saves their inference graphs (directly and through convert-keras
from an HDF5 file) and what Keras and symgraph compute on a fixed batch."""

import sys
from pathlib import Path

import keras
import numpy as np
from keras import layers

import symgraph
from symgraph.io.keras2 import convert_keras, inference_function, save_keras_model

out = Path(sys.argv[1])
rng = np.random.default_rng(0)

mlp = keras.models.Sequential([
    layers.Dense(16, activation="relu", input_shape=(6,)),
    layers.BatchNormalization(),
    layers.Dropout(0.5),
    layers.Dense(3, activation="softmax")])
mlp.compile("adam", "categorical_crossentropy")
x = rng.standard_normal((40, 6)).astype("float32")
y = np.eye(3, dtype="float32")[rng.integers(0, 3, 40)]
mlp.fit(x, y, epochs=2, batch_size=8, verbose=0)  # moving statistics move

seq_in = keras.Input(shape=(5, 4))
hidden = layers.LSTM(8, return_sequences=True)(seq_in)
conv = layers.Conv1D(4, 3, padding="same", activation="tanh")(hidden)
rnn = keras.Model(seq_in, [layers.GlobalAveragePooling1D()(conv), layers.Dense(2)(hidden)])
s = rng.standard_normal((7, 5, 4)).astype("float32")

save_keras_model(mlp, out / "mlp.sg")
save_keras_model(rnn, out / "rnn.sg")
mlp.save(str(out / "mlp.h5"))
convert_keras(out / "mlp.h5", out / "mlp_converted.sg")
np.savez(out / "expected.npz", x=x, s=s, mlp_keras=mlp.predict(x),
         mlp_symgraph=inference_function(mlp)([x])[0],
         rnn_keras_0=rnn.predict(s)[0], rnn_keras_1=rnn.predict(s)[1],
         **{f"rnn_symgraph_{k}": v for k, v in enumerate(inference_function(rnn)([s]))})
assert symgraph.load(out / "mlp.sg") is not None
print("saved")
