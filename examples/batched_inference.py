"""Deferred MLP inference over many batches with plain ``K`` calls.

Builds the model once (no data flows while building), inspects its static shapes,
compiles one function, and streams batches of varying size through it, checking the
result against NumPy.

    python examples/batched_inference.py
"""

import numpy as np

import symgraph.backend as K


def main(n_batches: int = 20) -> float:
    rng = np.random.default_rng(0)
    x = K.placeholder(shape=(None, 64), name="features")
    w1 = K.variable(rng.normal(0, 0.2, (64, 128)), name="w1")
    b1 = K.variable(np.zeros(128), name="b1")
    w2 = K.variable(rng.normal(0, 0.2, (128, 10)), name="w2")
    b2 = K.variable(np.zeros(10), name="b2")
    logits = K.dot(K.tanh(K.dot(x, w1) + b1), w2) + b2
    probs = K.softmax(logits)
    confidence = K.max(probs, axis=-1)
    print("probs:", K.int_shape(probs), "confidence:", K.int_shape(confidence))

    predict = K.function([x], [probs, confidence])
    worst = 0.0
    for _ in range(n_batches):
        batch = rng.normal(size=(int(rng.integers(1, 300)), 64)).astype(np.float32)
        p, c = predict([batch])
        h = np.tanh(batch @ K.get_value(w1) + K.get_value(b1))
        z = h @ K.get_value(w2) + K.get_value(b2)
        e = np.exp(z - z.max(1, keepdims=True))
        worst = max(worst, float(np.abs(p - e / e.sum(1, keepdims=True)).max()))
        assert np.allclose(c, p.max(1))
    print(f"{n_batches} batches, max |symgraph - numpy| = {worst:.2e}, "
          f"{predict.n_kernels} kernels per call")
    return worst


if __name__ == "__main__":
    main()
