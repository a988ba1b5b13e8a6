"""`python -m biocl_cli.demo`: run every quick protocol on its embedded simulated data (`make demo`)."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from biocl.utils.errors import BioclError
from biocl.pipelines import run_protocol
from biocl.protocols.base import load_protocol
from biocl.report.labels import metric_label
from biocl_cli.protocols import PROTOCOL_DIR

QUICK_PROTOCOLS = ("brain_speech_quick", "dna_species_quick", "audio_temporal_quick")


def cpu_seconds() -> float:
    """CPU time (user + system, s) used so far by this process, its threads and finished children.

    On a shared machine the wall time of a protocol depends on the other load; its CPU time
    much less, so the demo prints both.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run every quick protocol and print where its report is."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    reports = []
    for name in QUICK_PROTOCOLS:
        path = PROTOCOL_DIR / f"{name}.yaml"
        started, started_cpu = time.perf_counter(), cpu_seconds()
        try:
            run_dir, results = run_protocol(load_protocol(path), args.out / f"{name}-{stamp}")
        except BioclError as err:
            print(f"error: {err.one_line()}", file=sys.stderr)
            return 2
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - started_cpu
        print(f"{name}: {seconds:.0f} s wall, {cpu:.0f} s CPU", flush=True)
        reports.append((name, run_dir, results["primary_endpoint"], seconds, cpu))
    print("\nbiocl demo (all data simulated):")
    for name, run_dir, endpoint, seconds, cpu in reports:
        verdict = "PASS" if endpoint["passed"] else "FAIL"
        print(f"  {name:<22} {metric_label(endpoint['metric'])} = {endpoint['value']:.3f} {verdict}  ({seconds:.0f} s wall, {cpu:.0f} s CPU)")
        print(f"  {'':<22} report: {run_dir / 'report.html'}")
    total = sum(r[3] for r in reports)
    print(f"  {'total':<22} {total:.0f} s wall ({total / 60:.1f} min), {sum(r[4] for r in reports):.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
