"""The ``symgraph`` command on a graph file: ``info`` and a batched ``run``.

    python examples/command_line.py [--rows 200000]

Saves a model and its input rows, then runs (as a user would in a shell)::

    symgraph info model.sg
    symgraph run model.sg --input x.npy --batch-size 4096 --out out.npz
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import symgraph
import symgraph.backend as K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    x = K.placeholder(shape=(None, 32), name="x")
    with K.name_scope("dense"):
        w = K.variable(rng.normal(0, 0.2, (32, 64)).astype("float32"), name="kernel")
        h = K.relu(K.dot(x, w))
    with K.name_scope("head"):
        v = K.variable(rng.normal(0, 0.2, (64, 4)).astype("float32"), name="kernel")
        probs = K.softmax(K.dot(h, v))
    f = K.function([x], [probs])
    symgraph.save(f, folder / "model.sg")
    rows = rng.normal(size=(args.rows, 32)).astype("float32")
    np.save(folder / "x.npy", rows)

    command = [sys.executable, "-m", "symgraph"]
    for extra in (["info", folder / "model.sg"],
                  ["run", folder / "model.sg", "--input", folder / "x.npy", "--batch-size",
                   "4096", "--out", folder / "out.npz"]):
        print("$ symgraph", " ".join(str(a) for a in extra))
        subprocess.run([*command, *map(str, extra)], check=True)
    result = np.load(folder / "out.npz")["head/softmax"]
    expected = f([rows[:4096]])[0]
    print(f"out.npz: {result.shape} {result.dtype}; first batch equals f(batch): "
          f"{result[:4096].tobytes() == expected.tobytes()}")


if __name__ == "__main__":
    main()
