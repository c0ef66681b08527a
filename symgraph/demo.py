"""The demo: build a deferred MLP, show its graph, evaluate it over batches."""

from __future__ import annotations

import os
import time

import numpy as np


def build_model(seed: int = 0) -> tuple:
    """The demo model, a 20-32-4 MLP with Keras-style layer scopes (``dense_1``,
    ``dense_2``): ``(x, weights, hidden, probs, label)``, in the current session.

    Example:
        >>> x, weights, hidden, probs, label = build_model()
        >>> probs.name, [w.name for w in weights][:2]
        ('dense_2/softmax', ['dense_1/kernel', 'dense_1/bias'])
    """
    import symgraph.backend as K

    rng = np.random.default_rng(seed)
    x = K.placeholder(shape=(None, 20), name="x")
    with K.name_scope("dense_1"):
        w1 = K.variable(rng.normal(0, 0.3, (20, 32)), name="kernel")
        b1 = K.variable(np.zeros(32), name="bias")
        hidden = K.relu(K.dot(x, w1) + b1)
    with K.name_scope("dense_2"):
        w2 = K.variable(rng.normal(0, 0.3, (32, 4)), name="kernel")
        b2 = K.variable(np.zeros(4), name="bias")
        probs = K.softmax(K.dot(hidden, w2) + b2)
    label = K.argmax(probs)
    return x, [w1, b1, w2, b2], hidden, probs, label


def run(batches: int = 5, batch_size: int = 64, seed: int = 0,
        view_path: str | None = None) -> list[np.ndarray]:
    """Build and run the demo model; print what happens and where its interactive view
    was written (``view_path``, default a temporary file). Returns the predictions."""
    import symgraph.backend as K
    from symgraph.inspect import format_graph

    K.clear_session()
    rng = np.random.default_rng(seed)
    x, _, hidden, probs, label = build_model(seed)

    print("Deferred model (nothing has run yet):")
    print(f"  x      {K.int_shape(x)} {K.dtype(x)}")
    print(f"  hidden {K.int_shape(hidden)} {K.dtype(hidden)}")
    print(f"  probs  {K.int_shape(probs)} {K.dtype(probs)}")
    print(f"  label  {K.int_shape(label)} {K.dtype(label)}")
    print("\nGraph:")
    print("  " + format_graph([probs, label]).replace("\n", "\n  "))

    f = K.function([x], [probs, label])
    print(f"\nCompiled plan ({f.n_kernels} kernels):")
    print("  " + f.plan.describe().replace("\n", "\n  "))

    print(f"\nEvaluating {batches} batches (a new batch size does not recompile):")
    results = []
    for i in range(batches):
        n = batch_size + 7 * i
        batch = rng.normal(size=(n, 20)).astype(np.float32)
        start = time.perf_counter()
        p, lab = f([batch])
        ms = (time.perf_counter() - start) * 1e3
        print(f"  batch {i}: {n:3d} rows -> probs {p.shape}, row sums ~ {p.sum(1).mean():.4f}, "
              f"classes {np.bincount(lab, minlength=4).tolist()}  ({ms:.2f} ms)")
        results.append(p)

    from symgraph.inspect import summary, to_html

    print("\nSummary (batch of 64):")
    print("  " + str(summary(f, batch_size=64)).replace("\n", "\n  "))
    if view_path is None:
        import tempfile

        view_path = os.path.join(tempfile.mkdtemp(prefix="symgraph-demo-"), "demo.html")
    to_html(f, view_path, profile=f.profile([batch], repeat=3))
    print(f"\nInteractive view of this model (as written and as compiled, kernel times):\n"
          f"  {view_path}\n  open it in a browser, or: symgraph show FILE for a saved graph")
    return results
