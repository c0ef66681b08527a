"""Run Keras 2.3.1's own test suite on symgraph and sum the results.

Usage::

    python -m tests.keras_suite [--jobs N] [--cache DIR] [--json OUT] [FILE ...]

Downloads the Keras 2.3.1 sdist from PyPI once (pinned by sha256), extracts it to a cache
directory, lifts the "TensorFlow only" skips of the metric and loss classes in that copy
(``patches.py``), and runs each test file in its own process (Keras reads
``KERAS_BACKEND`` at import) with ``KERAS_BACKEND=symgraph.backend`` and the sdist's own
``keras`` package first on the path. Prints one line per file and the totals; exits 1
when a test failed that is not a listed known difference (``known.py``).
"""

from __future__ import annotations

import argparse
import json
import sys

from .suite import FILES, run_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.keras_suite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="test files relative to the sdist (default: "
                        "the whole list in tests/keras_suite/suite.py)")
    parser.add_argument("--jobs", type=int, default=0, help="files run at once (default: cores)")
    parser.add_argument("--cache", default=None, help="where the sdist is kept (default: "
                        "$SYMGRAPH_KERAS_SUITE_DIR or ~/.cache/symgraph/keras-suite)")
    parser.add_argument("--json", default=None, help="write the per-test results here")
    parser.add_argument("-k", default=None, help="pytest -k expression for every file")
    args = parser.parse_args(argv)
    report = run_suite(args.files or FILES, jobs=args.jobs, cache=args.cache, keyword=args.k,
                       stream=sys.stdout)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.as_dict(), f, indent=1)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
