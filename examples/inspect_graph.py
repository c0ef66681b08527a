"""Look at a model without running it, then at what the compiler made of it.

Builds a small classifier with Keras-style layer scopes, prints its summary (shapes,
parameters, FLOPs, kernels, peak memory) and the compiled plan (which node runs in
which kernel), times one batch per kernel, and writes two files: ``model.svg``, the
graph as compiled (fused kernels shaded), and ``model.html``, the interactive view
(scopes collapsed; click one to expand it, toggle "as compiled", open the memory plan
or the kernel times). Open ``model.html`` in any browser: it works offline.

    python examples/inspect_graph.py [--out DIR] [--batch-size 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import symgraph.backend as K
from symgraph.inspect import format_graph, summary, to_html, to_svg
from symgraph.inspect.profile import profile


def build_model(seed: int = 0):
    """A 64-32-10 classifier: ``(x, probs)``, each layer in its own name scope."""
    rng = np.random.default_rng(seed)
    x = K.placeholder(shape=(None, 64), name="features")
    h = x
    for i, (n_in, n_out) in enumerate([(64, 32), (32, 10)]):
        with K.name_scope(f"dense_{i + 1}"):
            w = K.variable(rng.normal(0, (2 / n_in) ** 0.5, (n_in, n_out)), name="kernel")
            b = K.variable(np.zeros(n_out), name="bias")
            z = K.dot(h, w) + b
            h = K.relu(z) if i == 0 else K.softmax(z)
    return x, h


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the files")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    x, probs = build_model()
    print("output:", K.int_shape(probs), K.dtype(probs), "(known before any data exists)")
    f = K.function([x], [probs], name="classifier")
    print(summary(f, batch_size=args.batch_size))
    print()
    print(format_graph(f, fused=True))

    batch = np.random.default_rng(1).random((args.batch_size, 64), dtype=np.float32)
    times = profile(f, [batch])  # kernel name -> median seconds of one call
    print()
    print("kernel times:", ", ".join(f"{k} {t * 1e6:.0f} us" for k, t in times.items()))

    args.out.mkdir(parents=True, exist_ok=True)
    to_svg(f, args.out / "model.svg", compiled=True, direction="LR",
           title="the classifier as compiled")
    to_html(f, args.out / "model.html", profile=times, batch_size=args.batch_size)
    print(f"wrote {args.out / 'model.svg'} and {args.out / 'model.html'}")


if __name__ == "__main__":
    main()
