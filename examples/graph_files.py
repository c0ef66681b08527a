"""Save a trained model to a graph file, look inside it, and load it back.

    python examples/graph_files.py [--out model.sg]

The loaded function needs no model code (and no Keras): only symgraph and the file.
Its results are bit-identical to the function it was saved from.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import symgraph
import symgraph.backend as K
from symgraph.io.describe import describe


def build_and_train(rng: np.random.Generator):
    """A small classifier trained for a few steps (so the weights are not the initial ones)."""
    x = K.placeholder(shape=(None, 8), name="x")
    y = K.placeholder(shape=(None, 3), name="y")
    with K.name_scope("hidden"):
        w1 = K.variable(rng.normal(0, 0.4, (8, 16)).astype("float32"), name="kernel")
        b1 = K.variable(np.zeros(16, "float32"), name="bias")
        h = K.relu(K.dot(x, w1) + b1)
    with K.name_scope("output"):
        w2 = K.variable(rng.normal(0, 0.4, (16, 3)).astype("float32"), name="kernel")
        probs = K.softmax(K.dot(h, w2))
    weights = [w1, b1, w2]
    loss = K.mean(K.categorical_crossentropy(y, probs))
    step = K.function([x, y], [loss], updates=[K.update_sub(w, 0.5 * g) for w, g in
                                               zip(weights, K.gradients(loss, weights))])
    data = rng.normal(size=(256, 8)).astype("float32")
    labels = np.eye(3, dtype="float32")[(data[:, 0] > 0).astype(int) + (data[:, 1] > 1)]
    for _ in range(20):
        (value,) = step([data, labels])
    print(f"trained: loss {value:.3f}")
    return K.function([x], [probs, K.argmax(probs, axis=-1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    path = args.out or Path(tempfile.mkdtemp()) / "model.sg"
    rng = np.random.default_rng(0)
    predict = build_and_train(rng)
    symgraph.save(predict, path)
    print(f"saved {path} ({path.stat().st_size:,} bytes)\n")

    loaded = symgraph.load(path)
    print(describe(loaded, label=str(path)))
    batch = rng.normal(size=(1000, 8)).astype("float32")
    before, after = predict([batch]), loaded([batch])
    same = all(a.tobytes() == b.tobytes() for a, b in zip(before, after))
    print(f"\nloaded function, 1000 rows: bit-identical to the saved one: {same}")
    print("class counts:", np.bincount(after[1], minlength=3).tolist())
    if not same:
        raise SystemExit("the loaded function differs")


if __name__ == "__main__":
    main()
