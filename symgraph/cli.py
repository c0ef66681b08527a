"""The ``symgraph`` command.

``symgraph demo``, ``symgraph version``, and for graph files: ``symgraph info FILE``,
``symgraph run FILE --input x.npy|inputs.npz [--batch-size N] [--threads T]
[--out out.npz] [--scheduler threads|distributed [--address ADDR]]``,
``symgraph summary FILE``, ``symgraph show FILE [-o out.html|out.svg] [--compiled]`` and
``symgraph convert-keras model.h5 out.sg``. Bad arguments and bad files print one
line, ``symgraph: error: ...``, and exit with status 2 (usage) or 1 (anything else),
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symgraph", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build a deferred model, show its graph, run batches")
    demo.add_argument("--batches", type=int, default=5)
    demo.add_argument("--batch-size", type=int, default=64)
    sub.add_parser("version", help="print versions")
    info = sub.add_parser("info", help="inputs, outputs, shapes, parameters of a graph file")
    info.add_argument("file")
    run = sub.add_parser("run", help="evaluate a graph file over arrays, in batches")
    run.add_argument("file")
    run.add_argument("--input", "-i", action="append", required=True, metavar="PATH",
                     help="a .npy per input (in order) or one .npz keyed by input names")
    run.add_argument("--batch-size", type=_positive, default=1024)
    run.add_argument("--threads", type=_positive, default=None,
                     help="batches at once (default: the cores available)")
    run.add_argument("--out", "-o", help="write the outputs to .npz (or .npy for one)")
    run.add_argument("--scheduler", choices=("threads", "distributed"), default="threads",
                     help="threads: in this process; distributed: a Dask cluster")
    run.add_argument("--address", help="Dask scheduler address (default: start a local "
                                       "cluster of --workers processes)")
    run.add_argument("--workers", type=_positive, default=2)
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    summ = sub.add_parser("summary", help="a table of a graph file by name scope")
    summ.add_argument("file")
    summ.add_argument("--batch-size", type=_positive, default=32,
                      help="the batch the bytes, FLOPs and peak memory are for")
    summ.add_argument("--expand", action="store_true", help="list every node")
    show = sub.add_parser("show", help="draw a graph file: an SVG picture or the HTML view")
    show.add_argument("file")
    show.add_argument("-o", "--out", help="out.svg or out.html (default: an HTML view in "
                                          "a temporary file, opened in a browser)")
    show.add_argument("--compiled", action="store_true",
                      help="the graph as compiled (after passes and fusion)")
    convert = sub.add_parser("convert-keras", help="a Keras 2.3.1 .h5 model to a graph file")
    convert.add_argument("model")
    convert.add_argument("out")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("symgraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user, never a traceback
        from .errors import SymgraphError

        known = isinstance(exc, (SymgraphError, OSError, ValueError, TypeError, ImportError))
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not known:
            text = f"{type(exc).__name__}: {text}"
        print(f"symgraph: error: {text}", file=sys.stderr)
        return 1


def _dispatch(args) -> int:
    if args.command == "demo":
        from .demo import run

        run(batches=args.batches, batch_size=args.batch_size)
    elif args.command == "version":
        print(version_text())
    elif args.command == "info":
        from .io import load
        from .io.describe import describe

        print(describe(load(args.file), label=args.file))
    elif args.command == "run":
        return _run(args)
    elif args.command == "summary":
        from .inspect import summary

        print(summary(args.file, batch_size=args.batch_size, expand=args.expand))
    elif args.command == "show":
        return _show(args)
    elif args.command == "convert-keras":
        from .io.keras2 import convert_keras

        convert_keras(args.model, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def version_text() -> str:
    """What ``symgraph version`` prints: symgraph's version (first line, ``symgraph X``),
    the Python, NumPy, numba and llvmlite it runs on, and the CPU name and features numba
    compiles kernels for (the host's, or ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``
    where set: numba's own configuration, as its code generator reads it)."""
    import platform

    import llvmlite
    import numba
    import numpy
    from numba.core import config

    from . import __version__

    cpu, features, source = _numba_target(config)
    enabled = [f[1:] for f in features.split(",") if f.startswith("+")]
    lines = [f"symgraph {__version__}",
             f"Python {platform.python_version()} ({platform.python_implementation()}, "
             f"{sys.executable})",
             f"numpy {numpy.__version__}",
             f"numba {numba.__version__}",
             f"llvmlite {llvmlite.__version__}",
             f"numba compiles for: CPU {cpu} ({source})",
             f"CPU features: {' '.join(enabled) if enabled else 'none (generic code)'}"]
    return "\n".join(lines)


def _numba_target(config) -> tuple[str, str, str]:
    """``(cpu name, features as "+a,-b,...", where they come from)``, as numba's CPU
    code generator picks them."""
    import llvmlite.binding as ll

    if config.CPU_NAME is not None:
        cpu, source = config.CPU_NAME, "NUMBA_CPU_NAME"
    else:
        cpu, source = ll.get_host_cpu_name(), "this machine"
    if config.CPU_FEATURES is not None:
        features = config.CPU_FEATURES
        if os.environ.get("NUMBA_CPU_FEATURES") is not None:
            source += ", NUMBA_CPU_FEATURES"
    else:
        try:  # numba's helper: the host's features less AVX where NUMBA_ENABLE_AVX=0
            from numba.core.codegen import get_host_cpu_features

            features = get_host_cpu_features()
        except ImportError:  # a numba without it: llvmlite's view of the host
            features = ll.get_host_cpu_features().flatten()
        if not getattr(config, "ENABLE_AVX", True):
            source += ", AVX off by NUMBA_ENABLE_AVX=0"
    return cpu, features, source


def _show(args) -> int:
    from .io import load

    fn = load(args.file)  # errors name the file before anything is drawn
    out = args.out
    if out is not None and out.endswith(".svg"):
        from .inspect import to_svg

        to_svg(fn, out, compiled=args.compiled, title=os.path.basename(args.file))
        print(f"wrote {out}", file=sys.stderr)
        return 0
    if out is not None and not out.endswith((".html", ".htm")):
        raise ValueError(f"-o {out}: expected a .svg or .html file name")
    from .inspect.html import show, to_html

    if out is None:
        show(fn, compiled=args.compiled)
    else:
        to_html(fn, out, compiled=args.compiled)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def load_inputs(paths: list[str], fn) -> list:
    """The arrays to feed ``fn``: one ``.npy`` per input, or one ``.npz`` keyed by input
    names (``arr_0``... in order also work). ``.npy`` files are memory-mapped, so a
    run reads batch by batch; nothing is unpickled."""
    import numpy as np

    names = [t.name for t in fn.inputs]
    for path in paths:
        if not os.path.isfile(path):
            raise OSError(f"{path}: no such file")
    if len(paths) == 1 and paths[0].endswith(".npz"):
        with np.load(paths[0], allow_pickle=False) as npz:
            keys = list(npz.keys())
            order = names if all(n in keys for n in names) else \
                [f"arr_{k}" for k in range(len(names))]
            missing = [k for k in order if k not in keys]
            if missing:
                raise ValueError(f"{paths[0]}: holds {keys}, expected the inputs "
                                 f"{names} (or arr_0...)")
            return [npz[k] for k in order]
    if not all(p.endswith(".npy") for p in paths):
        raise ValueError("--input takes .npy files (one per input) or one .npz file")
    if len(paths) != len(names):
        raise ValueError(f"the graph takes {len(names)} input(s) ({', '.join(names)}), "
                         f"got {len(paths)} .npy file(s)")
    return [np.load(p, mmap_mode="r", allow_pickle=False) for p in paths]


def _run(args) -> int:
    import numpy as np

    from .io import load

    start = time.perf_counter()
    fn = load(args.file)
    base = getattr(fn, "fn", fn)
    inputs = load_inputs(args.input, base)
    progress = False if args.no_progress else None
    if args.scheduler == "distributed":
        outputs = _run_distributed(fn, inputs, args)
    else:
        outputs = fn.predict(inputs if len(inputs) != 1 else inputs[0],
                             batch_size=args.batch_size, threads=args.threads,
                             progress=progress)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    seconds = time.perf_counter() - start
    rows = len(inputs[0]) if inputs and np.ndim(inputs[0]) else 0
    names = [t.name for t in base.outputs]
    if args.out:
        _write_outputs(args.out, names, outputs)
    else:
        for name, value in zip(names, outputs):
            print(f"{name}: shape {value.shape} {value.dtype}")
    print(f"symgraph run: {rows} rows in {seconds:.3f} s ({rows / max(seconds, 1e-9):,.0f} "
          "rows/s, loading and compiling included)", file=sys.stderr)
    return 0


def _write_outputs(path: str, names: list[str], outputs: list) -> None:
    import numpy as np

    if path.endswith(".npy"):
        if len(outputs) != 1:
            raise ValueError(f"the graph has {len(outputs)} outputs: write them to .npz")
        np.save(path, outputs[0])
    elif path.endswith(".npz"):
        np.savez(path, **dict(zip(names, outputs)))  # keys: the output names
    else:
        raise ValueError(f"--out {path}: expected a .npz (or .npy) file name")


def _run_distributed(fn, inputs, args) -> list:
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    from . import dask as sg_dask

    arrays = [da.from_array(a, chunks=(args.batch_size,) + a.shape[1:]) for a in inputs]
    cluster = None
    if args.address:
        client = Client(args.address)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads or 1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        sg_dask.warmup(client, fn)
        result = sg_dask.map_blocks(fn, *arrays)
        outputs = result if isinstance(result, list) else [result]
        return list(dask.compute(*outputs))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    sys.exit(main())
