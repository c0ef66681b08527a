"""Keras 2.3.1 tests that fail on symgraph for a reason written next to each.

Only two kinds of entry are allowed:

* a one-ulp float32 difference: Keras compares with NumPy at ``rtol=1e-7``; the entry
  says the measured error;
* a TensorFlow-only API that a test lifted from its TensorFlow-only skip
  (``patches.py``) calls, e.g. ``tf.nn.top_k`` inside Keras's own metric code.

Keys are ``file::Class::test`` (or ``file::test``) as the suite runner prints them.
"""

KNOWN_DIFFERENCES: dict[str, str] = {}
