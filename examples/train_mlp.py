"""Train a small MLP with plain ``K`` calls: a deferred model, symbolic gradients and
a compiled training step whose updates apply SGD with momentum.

The data set is generated (three interleaved spirals, 2-D points: not linearly
separable), so nothing is downloaded. Run:

    python examples/train_mlp.py [--epochs 30] [--seed 0]

It prints the mean loss per epoch and the final accuracy (chance is 33%).
"""

from __future__ import annotations

import argparse

import numpy as np

import symgraph.backend as K


def spirals(n_per_class: int, n_classes: int = 3, noise: float = 0.15, seed: int = 0):
    """Points on ``n_classes`` interleaved spiral arms, with one-hot labels."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(n_classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        angle = np.linspace(c * 2 * np.pi / n_classes, c * 2 * np.pi / n_classes + 2.5 * np.pi,
                            n_per_class) + rng.normal(scale=noise, size=n_per_class)
        xs.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
        ys.append(np.full(n_per_class, c))
    x = np.concatenate(xs).astype(np.float32)
    labels = np.concatenate(ys)
    return x, np.eye(n_classes, dtype=np.float32)[labels]


def build_model(sizes, seed: int = 0):
    """Weights and a forward function for an MLP with relu hidden layers."""
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        scale = np.sqrt(2.0 / fan_in)  # He initialization for relu layers
        weights.append(K.variable(rng.normal(scale=scale, size=(fan_in, fan_out)),
                                  name=f"w{len(weights) // 2}"))
        weights.append(K.variable(np.zeros(fan_out), name=f"b{len(weights) // 2}"))

    def forward(x):
        h = x
        for i in range(0, len(weights) - 2, 2):
            h = K.relu(K.dot(h, weights[i]) + weights[i + 1])
        return K.softmax(K.dot(h, weights[-2]) + weights[-1])

    return weights, forward


def make_train_step(sizes, lr: float = 0.1, momentum: float = 0.9, seed: int = 0):
    """Compile (loss, accuracy) -> SGD-with-momentum updates, and a predict function."""
    weights, forward = build_model(sizes, seed)
    x = K.placeholder((None, sizes[0]), name="x")
    y = K.placeholder((None, sizes[-1]), name="y")
    probs = forward(x)
    loss = K.mean(K.categorical_crossentropy(y, probs))
    accuracy = K.mean(K.cast(K.equal(K.argmax(probs), K.argmax(y)), "float32"))
    grads = K.gradients(loss, weights)
    updates = []
    for w, g in zip(weights, grads):
        velocity = K.zeros(K.int_shape(w))
        new_velocity = velocity * momentum - g * lr
        updates += [K.update(velocity, new_velocity), K.update_add(w, new_velocity)]
    train = K.function([x, y], [loss, accuracy], updates=updates, name="train_step")
    predict = K.function([x], [probs], name="predict")
    return train, predict


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = spirals(300, seed=args.seed)
    train, predict = make_train_step([2, 64, 64, 3], seed=args.seed)
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), args.batch_size):
            batch = order[start:start + args.batch_size]  # the last batch is smaller
            loss, _ = train([x[batch], y[batch]])
            losses.append(float(loss))
        print(f"epoch {epoch:3d}  loss {np.mean(losses):.4f}")
    accuracy = float((predict([x])[0].argmax(axis=1) == y.argmax(axis=1)).mean())
    print(f"accuracy {accuracy:.3f} (chance 0.333)")
    return accuracy


if __name__ == "__main__":
    main()
