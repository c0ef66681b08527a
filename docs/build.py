"""Build the documentation site into docs/_build/html; any warning fails the build.

    pip install -e '.[docs]' && python docs/build.py

What the build does beyond Sphinx's HTML (docs/_ext/): it writes the reference pages of
``symgraph.backend``, runs every documented docstring's examples (and the ``pycon``
blocks of the guides) as doctests, runs each script of ``examples/`` with small
arguments for the gallery, and writes the interactive HTML views the inspecting guide
embeds. A broken reference, a public name without a docstring or a runnable example,
a failing doctest and a failing example are all errors.

Every build starts fresh (``-E``: no cached environment), so every example and every
doctest runs each time. Open ``docs/_build/html/index.html`` when it is done.

Options: ``--out DIR`` (default ``docs/_build/html``); ``--keep-env`` reuses the cached
environment of the last build (only changed pages are read again, and only their
examples and the doctests run again: quicker while editing, not what CI runs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--keep-env", action="store_true",
                        help="reuse the last build's environment (not a full rebuild)")
    args = parser.parse_args(argv)
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    options = ["-W", "--keep-going", "-b", "html", "-q",
               "-d", str(DOCS / "_build" / "doctrees")]
    if not args.keep_env:
        options.append("-E")
    code = build_main([*options, str(DOCS), str(args.out)])
    seconds = time.perf_counter() - start
    if code == 0:
        print(f"docs: built in {seconds:.0f} s: {args.out / 'index.html'}")
    else:
        print(f"docs: the build failed after {seconds:.0f} s (warnings are errors; see "
              "above)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
