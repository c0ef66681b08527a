"""Lift Keras 2.3.1's "TensorFlow only" skips in the extracted copy of its tests.

Keras skips its metric and loss *classes* on every backend but TensorFlow, because they
need control dependencies (``metric.__call__`` runs ``update_state`` under
``K.control_dependencies``). symgraph has control dependencies, so the suite runs them.
Only the skip conditions change, in the cache's copy; Keras's library code, and every
test body, stay as PyPI ships them. Each patch must match exactly once, so a different
sdist fails loudly instead of running unpatched.
"""

from __future__ import annotations

from pathlib import Path

# (file, text in the sdist, replacement, why)
PATCHES = [
    ("tests/keras/metrics_test.py",
     "if K.backend() != 'tensorflow':\n    # Need TensorFlow to use metric.__call__\n"
     "    pytestmark = pytest.mark.skip\n",
     "# symgraph: the TensorFlow-only skip is lifted (control dependencies are supported)\n",
     "metric classes: module-level skip on non-TensorFlow backends"),
    ("tests/keras/losses_test.py",
     "skipif_not_tf = pytest.mark.skipif(\n    K.backend() != 'tensorflow',",
     "skipif_not_tf = pytest.mark.skipif(\n    False,  # symgraph: TensorFlow-only skip lifted",
     "loss classes (TestLossClasses and the per-loss classes): skipif not TensorFlow"),
    ("tests/keras/metrics_confusion_matrix_test.py",
     "if K.backend() != 'tensorflow':\n    # Need TensorFlow to use metric.__call__\n"
     "    pytestmark = pytest.mark.skip\n\nimport tensorflow as tf\n",
     "# symgraph: the TensorFlow-only skip is lifted; `tf` was only read for its version in\n"
     "# TestMeanIoU's skip condition below\n",
     "confusion-matrix metrics: module-level skip and a TensorFlow import"),
    ("tests/keras/metrics_confusion_matrix_test.py",
     "@pytest.mark.skipif(not tf.__version__.startswith('2.'),\n"
     "                    reason='Requires TF 2')",
     "@pytest.mark.skipif(True, reason='keras.metrics.MeanIoU subclasses "
     "tf.keras.metrics.MeanIoU and raises on other backends')",
     "MeanIoU is tf.keras.metrics.MeanIoU itself: Keras 2.3.1 has no implementation of "
     "its own, so it stays skipped with that reason"),
]


def apply_patches(tree: Path) -> None:
    """Apply :data:`PATCHES` to the extracted sdist at ``tree`` (in place)."""
    for rel, old, new, _why in PATCHES:
        path = tree / rel
        text = path.read_text()
        if text.count(old) != 1:
            raise RuntimeError(f"patch for {rel} does not match the sdist exactly once: {old!r}")
        path.write_text(text.replace(old, new))
