"""The demo: build a deferred MLP, show its graph, evaluate it over batches."""

from __future__ import annotations

import os
import time

import numpy as np


def run(batches: int = 5, batch_size: int = 64, seed: int = 0,
        view_path: str | None = None) -> list[np.ndarray]:
    """Build and run the demo model; print what happens and where its interactive view
    was written (``view_path``, default a temporary file). Returns the predictions."""
    import symgraph.backend as K
    from symgraph.inspect import format_graph

    K.clear_session()
    rng = np.random.default_rng(seed)
    x = K.placeholder(shape=(None, 20), name="x")
    w1 = K.variable(rng.normal(0, 0.3, (20, 32)), name="w1")
    b1 = K.variable(np.zeros(32), name="b1")
    w2 = K.variable(rng.normal(0, 0.3, (32, 4)), name="w2")
    b2 = K.variable(np.zeros(4), name="b2")
    hidden = K.relu(K.dot(x, w1) + b1)
    probs = K.softmax(K.dot(hidden, w2) + b2)
    label = K.argmax(probs)

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
