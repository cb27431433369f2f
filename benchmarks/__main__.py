"""`python -m benchmarks [--rounds R] [--suite plain|regularized|all] [--readme]`: time the generated kernels against the rest.

Prints the Markdown performance table (time per forward + backward step relative to the GEMM
floor in the same round: median of the per-round ratios, with their range) under a line
naming the date, the versions and the machine; then, for the regularized cases (batch norm,
dropout, weight decay), their own table against the GEMM + BN floor (the GEMM floor's products
plus one elementwise pass, an `np.multiply` over the layer's (N, units) array, per batch-norm
layer forward and backward). `--readme` also writes each suite's part into README.md between
its markers (`perf-table`, `perf-table-regularized`), leaving the other suite's part as it is.
Exit status 1 if any contender's gradients are wrong.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- perf-table:start -->", "<!-- perf-table:end -->"
REG_START, REG_END = "<!-- perf-table-regularized:start -->", "<!-- perf-table-regularized:end -->"


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    import numpy as np

    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name', '?')} {deps.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older NumPy: the configuration is not a dict
        return "unknown BLAS"


def limit_threads(threads: int) -> None:
    """Every library's thread pool to `threads` threads; before NumPy, PyTorch or JAX load.

    Idle OpenMP threads wait passively, so one library's spinning pool does not steal the
    cores another library's pool is about to use.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if threads == 1:
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()


def provenance(threads: int, clock: str) -> str:
    """One line: date, versions, machine."""
    import numpy as np

    import gradscribe

    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return (
        f"Measured {day} with `python -m benchmarks`: gradscribe {gradscribe.__version__}, "
        f"Python {platform.python_version()}, NumPy {np.__version__} ({_blas()}), "
        f"PyTorch {_version('torch')}, JAX {_version('jax')}; {_cpu()}, {os.cpu_count()} cores, "
        f"{platform.system()}; {threads} thread{'s' if threads > 1 else ''} per library, "
        f"{'CPU time of the process' if clock == 'cpu' else 'wall-clock time'}."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per case (default 9)")
    parser.add_argument("--dtype", choices=["float64", "float32", "both"], default="both")
    parser.add_argument("--case", action="append", help="only the cases whose network starts with this")
    parser.add_argument(
        "--suite",
        choices=["plain", "regularized", "all"],
        default="all",
        help="the plain dense cases, the regularized ones (batch norm, dropout, weight decay) or both (default)",
    )
    parser.add_argument("--only", action="append", help="time only these contenders (and the floor)")
    parser.add_argument("--threads", type=int, default=1, help="threads per library (default 1)")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        help="CPU time of the process (default with one thread) or wall-clock time (default otherwise)",
    )
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    limit_threads(args.threads)

    import numpy as np

    from . import contenders, harness
    from .cases import CASES, REGULARIZED_CASES

    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    import time

    clock_name = args.clock or ("cpu" if args.threads == 1 else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    dtypes = [np.float64, np.float32] if args.dtype == "both" else [np.dtype(args.dtype).type]
    suite = {"plain": CASES, "regularized": REGULARIZED_CASES, "all": CASES + REGULARIZED_CASES}[args.suite]
    cases = [c for c in suite if not args.case or any(c.inline.startswith(p) for p in args.case)]
    names = [n for n in contenders.NAMES if not args.only or n == "floor" or n in args.only]
    reg_names = [n for n in names if n in contenders.REGULARIZED_NAMES]
    results, reg_results = [], []
    try:
        for case in cases:
            for dtype in dtypes:
                res = harness.measure(case, dtype, reg_names if case.regularized else names, args.rounds, clock=clock)
                (reg_results if case.regularized else results).append(res)
                print(f"  {case.label} {res.dtype.name}: " + ", ".join(
                    f"{n} {np.median(res.ratios(n)):.3f}" for n in res.times if n != "floor"
                ), file=sys.stderr, flush=True)
    except harness.GradientMismatch as exc:
        print(f"wrong gradients: {exc}", file=sys.stderr)
        return 1
    blocks = []
    if results:
        text = provenance(args.threads, clock_name) + "\n\n" + harness.table(results, names) + "\n"
        if "textbook" in names and any(n.startswith("textbook style") for n in names):
            text += "\nThe textbook style against hand-written textbook NumPy, in the same rounds:\n\n"
            text += harness.textbook_table(results) + "\n"
        text += _missing(contenders, results)
        blocks.append((START, END, text))
    if reg_results:
        text = (
            provenance(args.threads, clock_name)
            + " Regularized cases: every hidden layer `bn+relu+dropout@0.5`, softmax + cross-entropy"
            + " `+wd@1e-4`, row layout, a training step with the same given dropout masks for every"
            + f" contender; ratios to the {harness.REGULARIZED_FLOOR} (the GEMM floor's products plus"
            + " one `np.multiply` over the (N, units) array per batch-norm layer, forward and backward).\n\n"
            + harness.table(reg_results, reg_names, floor=harness.REGULARIZED_FLOOR) + "\n"
        )
        text += _missing(contenders, reg_results)
        blocks.append((REG_START, REG_END, text))
    print("\n".join(text for _, _, text in blocks))
    if args.readme:
        readme = README.read_text(encoding="utf-8")
        for start, end, text in blocks:
            pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
            if not pattern.search(readme):
                print(f"README.md has no {start} ... {end} section", file=sys.stderr)
                return 2
            readme = pattern.sub(lambda _, text=text, start=start, end=end: f"{start}\n{text}{end}", readme)
        tmp = README.with_suffix(".md.tmp")
        tmp.write_text(readme, encoding="utf-8")
        os.replace(tmp, README)
    return 0


def _missing(contenders, results) -> str:
    lines = sorted({f"{contenders.TITLES[n]}: {why}" for r in results for n, why in r.missing.items()})
    return "".join(f"\n- {line}" for line in lines) + ("\n" if lines else "")


if __name__ == "__main__":
    sys.exit(main())
