"""Draw the gallery of docs/inspecting.md: three graphs as SVG (as written and as
compiled) and their PNG screenshots taken with headless Chromium.

    KERAS_BACKEND=symgraph.backend python docs/make_gallery.py [--out docs/images]

The graphs: the demo MLP (``symgraph demo``), a Keras 2.3.1 CNN (needs Keras 2.3.1;
skipped without it) and a training step of the MLP with its gradients and updates.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "symgraph.backend")


import symgraph.backend as K  # noqa: E402
import symgraph.keras2_compat  # noqa: E402, F401  (Keras 2.3.1 on this Python, before keras)
from symgraph.demo import build_model  # noqa: E402
from symgraph.inspect import to_svg  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def demo_mlp():
    """The model of ``symgraph demo`` (``symgraph.demo.build_model``)."""
    x, weights, _, probs, _ = build_model()
    return x, weights, probs


def training_step():
    """The demo MLP's training step: loss, gradients, SGD updates."""
    x, weights, probs = demo_mlp()
    y = K.placeholder(shape=(None, 4), name="y")
    with K.name_scope("loss"):
        loss = K.mean(K.categorical_crossentropy(y, probs))
    grads = K.gradients(loss, weights)
    return K.function([x, y], [loss], updates=[K.update_sub(w, 0.1 * g)
                                               for w, g in zip(weights, grads)])


def keras_cnn():
    """A small Keras 2.3.1 CNN built on symgraph (None without Keras)."""
    try:
        import keras
        from keras import layers
    except ImportError:
        return None
    model = keras.models.Sequential([
        layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D(2), layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")])
    return K.function(model.inputs, model.outputs)


def screenshot(page: Path, png: Path, size=(1000, 1200)) -> None:
    """A PNG of ``page`` in headless Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("(no chromium on PATH: no PNG for", page, ")")
        return
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                        f"--screenshot={png}", f"--window-size={size[0]},{size[1]}",
                        page.resolve().as_uri()], capture_output=True, timeout=120, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    K.clear_session()
    x, _, probs = demo_mlp()
    graphs = {"demo_mlp": (K.function([x], [probs, K.argmax(probs, axis=-1)]), "LR")}
    K.clear_session()  # each graph in its own session: names without _1 suffixes
    graphs["training_step"] = (training_step(), "TB")
    K.clear_session()
    cnn = keras_cnn()
    if cnn is not None:
        graphs["keras_cnn"] = (cnn, "TB")
    for name, (fn, direction) in graphs.items():
        for compiled in (False, True):
            stem = f"{name}{'_compiled' if compiled else ''}"
            svg = args.out / f"{stem}.svg"
            to_svg(fn, svg, compiled=compiled, direction=direction,
                   title=f"{name.replace('_', ' ')}, {'as compiled' if compiled else 'as written'}")
            width, height = (float(v) for v in svg.read_text().split('viewBox="0 0 ')[1]
                             .split('"')[0].split())
            if width * height <= 2500 * 2500:  # larger drawings: the SVG only
                screenshot(svg, args.out / f"{stem}.png", (int(width) + 20, int(height) + 20))
            print("wrote", svg)


if __name__ == "__main__":
    main()
