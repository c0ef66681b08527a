"""Keras 2.3.1's own test suite run on symgraph (``python -m tests.keras_suite``)."""
