"""The ``symgraph`` command: ``symgraph demo`` and ``symgraph version``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="symgraph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build a deferred model, show its graph, run batches")
    demo.add_argument("--batches", type=int, default=5)
    demo.add_argument("--batch-size", type=int, default=64)
    sub.add_parser("version", help="print versions")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        run(batches=args.batches, batch_size=args.batch_size)
    else:
        import numba
        import numpy

        from . import __version__

        print(f"symgraph {__version__} (numpy {numpy.__version__}, numba {numba.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
