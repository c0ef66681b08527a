"""Keras 2.3.1 tests that fail on symgraph for a reason written next to each.

Only two kinds of entry are allowed:

* a one-ulp float32 difference: Keras compares with NumPy at ``rtol=1e-7``; the entry
  says the measured error;
* a TensorFlow-only API that a test lifted from its TensorFlow-only skip
  (``patches.py``) needs, inside Keras's own code.

Keys are ``file::Class::test`` (or ``file::test``) as the suite runner prints them. An
entry that starts passing is reported (``stale``), so the list cannot rot.
"""

_CM = "tests/keras/metrics_confusion_matrix_test.py"
# keras/metrics.py raises RuntimeError("`top_k` argument for `Precision` metric is
# currently supported only with TensorFlow backend") for any other backend, and
# keras.utils.metrics_utils.filter_top_k calls tf.nn.top_k directly.
_TOP_K = "tensorflow-only: Keras's Precision/Recall refuse top_k on other backends " \
         "(keras/metrics.py) and filter_top_k calls tf.nn.top_k"

KNOWN_DIFFERENCES: dict[str, str] = {
    # selu(-1) in float32: symgraph -1.1113307476 (error 1.0e-8 against the float64 value
    # -1.1113307378), NumPy's float32 chain -1.1113308668 (error 1.3e-7); the test
    # compares the two at rtol=1e-7 and they differ by one ulp (1.19e-7, relative 1.07e-7)
    "tests/keras/activations_test.py::test_selu":
        "one ulp: measured relative difference 1.07e-7 at x=-1 (symgraph's is the "
        "correctly rounded value)",
    **{f"{_CM}::{cls}::{test}": _TOP_K
       for cls in ("TestPrecisionTest", "TestRecall")
       for test in ("test_config", "test_unweighted_top_k", "test_weighted_top_k",
                    "test_unweighted_top_k_and_class_id",
                    "test_unweighted_top_k_and_threshold")},
}
