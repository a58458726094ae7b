"""Time `slant report` on labelled articles with an outlet and a date, and print a table.

    python benchmarks/bench_report.py                       # 2,000 synthetic labelled articles
    python benchmarks/bench_report.py --rows 2000,1000000 --format parquet
    python benchmarks/bench_report.py --labelled stance.jsonl --by source --time date

Each run is `python -m service.cli report ... --by source --time date --freq W` in its own process
(so the time includes starting Python and importing pandas and matplotlib); the peak RSS is that
process's. Synthetic rows (`training.report.synthetic`: 6 outlets, 3 actors, 180 days, 1-3 evidence
sentences per actor) are written once per size, before the clock starts.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_report(labelled: Path, out: Path, extra: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit status) of one `slant report` process."""
    cmd = [sys.executable, "-m", "service.cli", "report", str(labelled), "-o", str(out), "--force", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    # ru_maxrss of children is the largest child so far: runs go from small to large.
    return seconds, max(peak, before) / 1024, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="2000", help="comma-separated synthetic sizes (default 2000)")
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    parser.add_argument("--labelled", type=Path, help="time this labelled file instead of synthetic rows")
    parser.add_argument("--by", default="source")
    parser.add_argument("--time", default="date")
    parser.add_argument("--freq", default="W")
    parser.add_argument("--keep", type=Path, help="write the reports here (default: a temporary folder)")
    args = parser.parse_args()

    from training.report.synthetic import write_synthetic

    work = Path(tempfile.mkdtemp(prefix="slant-bench-report-"))
    extra = ["--by", args.by, "--time", args.time, "--freq", args.freq, "--no-progress"]
    results = []
    try:
        inputs: list[tuple[str, Path]] = []
        if args.labelled:
            inputs.append((args.labelled.name, args.labelled))
        else:
            for n in sorted(int(x) for x in args.rows.split(",")):
                path = work / f"labelled-{n}.{args.format}"
                t0 = time.perf_counter()
                write_synthetic(path, n)
                size = path.stat().st_size / 2**20
                print(
                    f"wrote {n:,} synthetic rows ({size:,.1f} MiB) in {time.perf_counter() - t0:.1f} s",
                    flush=True,
                )
                inputs.append((f"{n:,} synthetic", path))
        for name, path in inputs:
            out = (args.keep or work) / f"report-{path.stem}"
            seconds, rss, status = run_report(path, out, extra)
            pages = (out / "index.html").stat().st_size / 2**20 if status == 0 else 0.0
            results.append((name, path.suffix.lstrip("."), seconds, rss, status, pages))
            print(f"{name}: {seconds:.1f} s, peak RSS {rss:,.0f} MiB, exit {status}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n`slant report --by {args.by} --time {args.time} --freq {args.freq}`; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.machine()}\n"
    )
    print("| input | format | seconds | peak RSS MiB | exit | page MiB |")
    print("|---|---|---|---|---|---|")
    for name, fmt, seconds, rss, status, page in results:
        print(f"| {name} | {fmt} | {seconds:.1f} | {rss:,.0f} | {status} | {page:.2f} |")
    if any(r[4] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
