"""Time per training step of examples/train_mlp.py's model (2-64-64-3 MLP, softmax
crossentropy, gradients, SGD with momentum; batch 64) in symgraph against the same
step written by hand in NumPy. Interleaved rounds; medians and the ratio.

    python benchmarks/bench_train.py [--steps 200] [--batch 64] [--hidden 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))
from train_mlp import make_train_step, spirals  # noqa: E402


def numpy_step_factory(sizes, lr=0.1, momentum=0.9, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
                      .astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    velocity = [np.zeros_like(p) for p in params]
    eps = np.float32(1e-7)

    def step(x, y):
        acts = [x]
        h = x
        for i in range(0, len(params) - 2, 2):
            h = np.maximum(h @ params[i] + params[i + 1], 0)
            acts.append(h)
        logits = h @ params[-2] + params[-1]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        pc = np.clip(p / p.sum(axis=1, keepdims=True), eps, 1 - eps)
        loss = -(y * np.log(pc)).sum(axis=1).mean()
        d = (p - y) / len(x)  # the softmax-crossentropy gradient
        grads = [None] * len(params)
        for i in range(len(params) - 2, -1, -2):
            grads[i] = acts[i // 2].T @ d
            grads[i + 1] = d.sum(axis=0)
            if i:
                d = (d @ params[i].T) * (acts[i // 2] > 0)
        for k, g in enumerate(grads):
            velocity[k] = velocity[k] * momentum - g * lr
            params[k] += velocity[k]
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sizes = [2, args.hidden, args.hidden, 3]
    x, y = spirals(max(args.batch * 4, 300))
    batches = [(x[i:i + args.batch], y[i:i + args.batch])
               for i in range(0, len(x) - args.batch + 1, args.batch)]
    train, _ = make_train_step(sizes)
    numpy_step = numpy_step_factory(sizes)
    train(list(batches[0]))  # compile outside the timing
    times = {"symgraph": [], "numpy": []}
    for _ in range(args.rounds):
        for name, fn in (("symgraph", lambda b: train(list(b))),
                         ("numpy", lambda b: numpy_step(*b))):
            start = time.perf_counter()
            for k in range(args.steps):
                fn(batches[k % len(batches)])
            times[name].append((time.perf_counter() - start) / args.steps)
    sym, ref = np.median(times["symgraph"]), np.median(times["numpy"])
    print(f"training step, MLP {sizes}, batch {args.batch}, median of {args.rounds} rounds "
          f"x {args.steps} steps")
    print(f"  numpy    {ref * 1e6:9.1f} us/step")
    print(f"  symgraph {sym * 1e6:9.1f} us/step   ratio {sym / ref:.2f}x")


if __name__ == "__main__":
    main()
