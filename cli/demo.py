"""`python -m biocl_cli.demo`: run every quick protocol on its embedded simulated data (`make demo`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from biocl.utils.errors import BioclError
from biocl.pipelines import run_protocol
from biocl.protocols.base import load_protocol
from biocl_cli.protocols import PROTOCOL_DIR

QUICK_PROTOCOLS = ("brain_speech_quick", "dna_species_quick", "audio_temporal_quick")


def main(argv: list[str] | None = None) -> int:
    """Run every quick protocol and print where its report is."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    reports = []
    for name in QUICK_PROTOCOLS:
        path = PROTOCOL_DIR / f"{name}.yaml"
        started = time.perf_counter()
        try:
            run_dir, results = run_protocol(load_protocol(path), args.out / f"{name}-{stamp}")
        except BioclError as err:
            print(f"error: {err.one_line()}", file=sys.stderr)
            return 2
        endpoint = results["primary_endpoint"]
        reports.append((name, run_dir, endpoint, time.perf_counter() - started))
    print("\nbiocl demo (all data simulated):")
    for name, run_dir, endpoint, seconds in reports:
        verdict = "PASS" if endpoint["passed"] else "FAIL"
        print(f"  {name:<22} {endpoint['metric']} = {endpoint['value']:.3f} {verdict}  ({seconds:.0f} s)")
        print(f"  {'':<22} report: {run_dir / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
