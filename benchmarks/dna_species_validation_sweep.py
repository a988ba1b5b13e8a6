"""Choose the quick DNA protocol's tuned settings on validation species only.

Usage::

    python benchmarks/dna_species_validation_sweep.py --out runs/sweep [--jobs 4] [--seed 0]

Runs ``protocols/dna_species_quick.yaml`` once per candidate setting with
``evaluate.split=validation``: the pipeline then scores the validation species (apart from
the calibration and test species) and never samples nor embeds the test species, so nothing
here can see the test split. Candidates change one tuned setting at a time around the
protocol's values (encoder width, learning rate, head learning-rate multiplier, k-mer
pooling); each phase still keeps its best epoch by the validation ARI. Prints a markdown
table (validation K-means ARI of the trained encoder and of canonical TNF on the same
contigs, best epoch per phase) and writes it to ``<out>/table.md``; the protocol keeps the
candidate with the highest validation ARI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTOCOL = REPO / "protocols" / "dna_species_quick.yaml"
# One tuned setting changed at a time; "protocol" is the protocol as written.
CANDIDATES = {
    "protocol": [],
    "dim 64": ["model.dim=64"],
    "lr 1e-3": ["train.lr=0.001"],
    "head lr x1": ["model.head_lr_multiplier=1"],
    "downsample 8": ["model.downsample=8"],
}
# Validation runs need no slow companions: canonical TNF is the reference, few permutations.
VALIDATION = ["evaluate.split=validation", "evaluate.baselines=[canonical_tnf]", "evaluate.n_permutations=10",
              "train.threads=1"]


def _run(name: str, overrides: list[str], out: Path, seed: int) -> dict:
    folder = out / name.replace(" ", "_")
    args = [sys.executable, "-m", "biocl_cli.main", "run", str(PROTOCOL), "--out", str(folder),
            "--set", f"seed={seed}"]
    for item in VALIDATION + overrides:
        args += ["--set", item]
    log = folder.with_suffix(".log")
    with open(log, "w") as handle:
        code = subprocess.call(args, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        return {"name": name, "error": f"exit {code}, see {log}"}
    results = json.loads((folder / "results.json").read_text())
    if results["data"].get("scored_split") != "validation":
        raise AssertionError(f"{folder}: not a validation run")
    best = {}
    for row in results["validation"]["epochs"]:
        if row["validation_ari"] >= best.get(row["phase"], (-1.0, None))[0]:
            best[row["phase"]] = (row["validation_ari"], row["epoch"])
    return {"name": name, "overrides": " ".join(overrides) or "(as written)", "ari": results["metrics"]["ari"],
            "canonical_tnf": results["baselines"]["canonical_tnf"]["ari"],
            "best_epochs": ", ".join(f"{phase} {epoch + 1}" for phase, (_, epoch) in best.items()),
            "wall_time_s": results["wall_time_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None, help="candidate names to run (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(CANDIDATES)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda n: _run(n, CANDIDATES[n], args.out, args.seed), names))
    lines = [f"validation species, seed {args.seed} (test species never sampled)", "",
             "| candidate | overrides | validation ARI, trained | validation ARI, canonical TNF | best epoch "
             "per phase | wall time (s) |", "|---|---|---|---|---|---|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['name']} | {row['error']} | | | | |")
        else:
            lines.append(f"| {row['name']} | {row['overrides']} | {row['ari']:.3f} | {row['canonical_tnf']:.3f} | "
                         f"{row['best_epochs']} | {row['wall_time_s']:.0f} |")
    done = [r for r in rows if "error" not in r]
    if done:
        lines += ["", f"highest validation ARI: {max(done, key=lambda r: r['ari'])['name']}"]
    table = "\n".join(lines) + "\n"
    (args.out / "table.md").write_text(table)
    print(table)
    return 0 if len(done) == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
