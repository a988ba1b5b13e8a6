"""biocl's binning beside VAMB and SemiBin2 on one simulated metagenome made from real genomes.

Usage (``make bench-binning``)::

    python benchmarks/peer_binning.py [--genomes DIR] [--samples 6] [--depth 10] [--mapper direct]
        [--peers vamb,semibin] [--biocl tnf,learned] [--threads 2] [--peer-venvs runs/peer_venvs]
        [--semibin-epochs 2] [--memory-gb 16] [--work DIR] [--json PATH]

1. ``biocl simulate metagenome`` on every genome file of ``--genomes`` (default
   ``../shared/data/dna``; the three *E. coli* strains are one species), ``--samples``
   samples, BAMs from the reads' known origin (``--mapper minimap2`` maps them instead).
2. Each peer runs in its own virtual environment under ``--peer-venvs`` (created with
   ``pip install vamb`` / ``pip install semibin`` when missing; never inside the repository),
   with its documented default workflow on the same contigs and BAMs:
   ``vamb bin default --outdir OUT --fasta contigs.fa --bamdir samples/ --seed 0`` and
   ``SemiBin2 single_easy_bin -i contigs.fa -b samples/*.bam -o OUT``; SemiBin2's
   self-supervised training gets ``--epochs`` (its default 15 needs ~3 h and > 15 GB here),
   which the table labels as not its default.
3. biocl runs with composition only and with coverage (``--bam`` per sample), for each of
   ``--biocl`` features (``tnf``: canonical TNF; ``learned``: the self-trained encoder).
4. Everything is scored by ``biocl dna evaluate`` (genome and species gold standards), and
   one table is printed: features, species ARI, genome ARI, mean F1 (genomes), genomes at
   > 90 % completeness / < 5 % contamination and > 50 % / < 10 %, wall time, peak memory
   (``ru_maxrss`` of the process tree). A peer that cannot run says why in one line.

SemiBin2 also needs programs from Debian: ``apt-get install prodigal hmmer bedtools``.

Every peer is run with ``nice`` and an address-space cap (``prlimit --as``, ``--memory-gb``),
since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIOCL = [sys.executable, "-m", "biocl_cli.main"]
SPECIES = {"escherichia_coli_K12": "e_coli", "escherichia_coli_EC590": "e_coli", "MIIJ01000039": "e_coli"}
PEER_PACKAGES = {"vamb": "vamb==5.0.4", "semibin": "semibin==2.6.0"}


def _run(command: list[str], *, log: Path, memory_gb: float | None = None, cwd: Path | None = None) -> dict:
    """Run a command under nice (and an address-space cap); its wall time, peak RSS and exit code."""
    prefix = ["nice", "-n", "10"]
    if memory_gb is not None and shutil.which("prlimit"):
        prefix = ["prlimit", f"--as={int(memory_gb * 2 ** 30)}", "--"] + prefix
    started = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.Popen(prefix + command, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return {"wall_s": time.perf_counter() - started, "peak_mb": usage.ru_maxrss / 1024, "returncode": code}


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"


def _ensure_venv(root: Path, name: str, log_dir: Path) -> Path | None:
    venv = root / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", f"import {name}"], capture_output=True)
    if probe.returncode != 0:
        install = _run([str(venv / "bin" / "pip"), "install", "-q", PEER_PACKAGES[name]],
                       log=log_dir / f"{name}_install.log")
        if install["returncode"] != 0:
            return None
    return venv


def _simulate(args: argparse.Namespace, work: Path) -> Path:
    meta = work / "metagenome"
    if (meta / "summary.json").is_file():
        return meta
    files = sorted(p for p in Path(args.genomes).iterdir() if p.name.endswith((".fna.gz", ".fasta.gz", ".fa.gz")))
    if not files:
        raise SystemExit(f"no genome files in {args.genomes}")
    species = work / "species.tsv"
    species.write_text("".join(f"{g}\t{s}\n" for g, s in SPECIES.items()
                               if any(f.name.startswith(g + ".") for f in files)))
    result = _run(BIOCL + ["simulate", "metagenome", *map(str, files), "--samples", str(args.samples),
                           "--depth", str(args.depth), "--mapper", args.mapper, "--threads", str(args.threads),
                           "--species", str(species), "--out", str(meta), "--seed", str(args.seed)],
                  log=work / "simulate.log")
    if result["returncode"] != 0:
        raise SystemExit(f"simulation failed: {_last_line(work / 'simulate.log')}")
    return meta


def _to_tsv(rows: list[tuple[str, str]], path: Path) -> Path:
    path.write_text("sequence_id\tbin\n" + "".join(f"{c}\t{b}\n" for c, b in rows))
    return path


def _vamb(venv: Path, meta: Path, out: Path, args: argparse.Namespace, logs: Path) -> tuple[dict, Path | None]:
    shutil.rmtree(out, ignore_errors=True)
    result = _run([str(venv / "bin" / "vamb"), "bin", "default", "--outdir", str(out), "--fasta",
                   str(meta / "contigs.fa"), "--bamdir", str(meta / "samples"), "--seed", str(args.seed),
                   "-p", str(args.threads)], log=logs / "vamb.log", memory_gb=args.memory_gb)
    clusters = next(iter(sorted(out.glob("vae_clusters_unsplit.tsv")) + sorted(out.glob("*clusters*.tsv"))), None)
    if result["returncode"] != 0 or clusters is None:
        return result, None
    rows = [line.split("\t")[:2] for line in clusters.read_text().splitlines()[1:] if line.strip()]
    return result, _to_tsv([(contig, cluster) for cluster, contig in rows], out / "biocl_clusters.tsv")


def _semibin(venv: Path, meta: Path, out: Path, args: argparse.Namespace, logs: Path) -> tuple[dict, Path | None]:
    shutil.rmtree(out, ignore_errors=True)
    bams = sorted(str(p) for p in (meta / "samples").glob("*.bam"))
    result = _run([str(venv / "bin" / "SemiBin2"), "single_easy_bin", "-i", str(meta / "contigs.fa"), "-b", *bams,
                   "-o", str(out), "-t", str(args.threads), "--epochs", str(args.semibin_epochs),
                   "--random-seed", str(args.seed), "--engine", "cpu"],
                  log=logs / "semibin.log", memory_gb=args.memory_gb)
    table = out / "contig_bins.tsv"
    if result["returncode"] != 0 or not table.is_file():
        return result, None
    rows = [line.split("\t")[:2] for line in table.read_text().splitlines()[1:] if line.strip()]
    return result, _to_tsv([(c, b) for c, b in rows if b != "-1"], out / "biocl_clusters.tsv")


def _biocl(meta: Path, out: Path, features: str, coverage: bool, args: argparse.Namespace,
           logs: Path) -> tuple[dict, Path | None]:
    shutil.rmtree(out, ignore_errors=True)
    bams = [arg for p in sorted((meta / "samples").glob("*.bam")) for arg in ("--bam", str(p))] if coverage else []
    name = f"biocl_{features}{'_cov' if coverage else ''}"
    result = _run(BIOCL + ["dna", "bin", str(meta / "contigs.fa"), "--out", str(out), "--features", features,
                           "--min-length", "2000", "--threads", str(args.threads), "--seed", str(args.seed),
                           *bams], log=logs / f"{name}.log")
    return result, (out if result["returncode"] == 0 else None)


def _score(bins: Path, meta: Path, logs: Path, name: str) -> dict:
    log = logs / f"{name}_evaluate.json"
    with open(log, "w") as handle:
        subprocess.run(BIOCL + ["--json", "dna", "evaluate", str(bins), "--truth", str(meta / "gold_genome.binning"),
                                "--species-truth", str(meta / "gold_species.binning"), "--fasta",
                                str(meta / "contigs.fa")], stdout=handle, check=True)
    scores = json.loads(log.read_text())
    recovered = {(r["completeness_gt"], r["contamination_lt"]): r["n_genomes"] for r in scores["amber"]["recovered"]}
    return {"species_ari": scores["species"]["ari"], "genome_ari": scores["ari"],
            "mean_f1": scores["match"]["mean_f1"], "c90_x5": recovered[(0.9, 0.05)],
            "c50_x10": recovered[(0.5, 0.10)], "n_bins": scores["match"]["n_bins"]}


def main(argv: list[str] | None = None) -> int:
    """Simulate, run every binner, score, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genomes", type=Path, default=REPO.parent / "shared" / "data" / "dna")
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--depth", type=float, default=10.0)
    parser.add_argument("--mapper", default="direct", choices=["direct", "minimap2"])
    parser.add_argument("--peers", default="vamb,semibin")
    parser.add_argument("--biocl", default="tnf,learned")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peer-venvs", type=Path, default=Path("runs/peer_venvs"))
    parser.add_argument("--semibin-epochs", type=int, default=2)
    parser.add_argument("--memory-gb", type=float, default=16.0)
    parser.add_argument("--work", type=Path, default=Path("runs/peer_binning"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.genomes.is_dir():
        print(f"genomes folder {args.genomes} not found; nothing to benchmark")
        return 0
    work = args.work.resolve()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    meta = _simulate(args, work)
    summary = json.loads((meta / "summary.json").read_text())
    print(f"metagenome: {summary['genomes']} genomes ({summary['species']} species), {summary['contigs']} contigs, "
          f"{summary['total_bp'] / 1e6:.1f} Mb, {summary['samples']} samples, mapper {summary['mapper']}", flush=True)
    rows = []
    runs = [(f, cov) for f in filter(None, args.biocl.split(",")) for cov in (False, True)]
    for features, coverage in runs:
        name = f"biocl_{features}{'_cov' if coverage else ''}"
        result, bins = _biocl(meta, work / name, features, coverage, args, logs)
        label = f"biocl {features}" + (" + coverage" if coverage else " (composition only)")
        rows.append({"tool": label, **result, **(_score(bins, meta, logs, name) if bins else
                                                 {"why": _last_line(logs / f"{name}.log")})})
        print(json.dumps(rows[-1]), flush=True)
    peers = {"vamb": ("VAMB 5.0.4 default (TNF + coverage VAE)", _vamb),
             "semibin": (f"SemiBin2 2.6.0 single_easy_bin, --epochs {args.semibin_epochs} (not default 15)",
                         _semibin)}
    for peer in filter(None, args.peers.split(",")):
        label, runner = peers[peer]
        venv = _ensure_venv(args.peer_venvs, peer, logs)
        if venv is None:
            rows.append({"tool": label, "why": f"pip install {PEER_PACKAGES[peer]} failed: "
                                               f"{_last_line(logs / f'{peer}_install.log')}"})
            continue
        result, bins = runner(venv, meta, work / peer, args, logs)
        rows.append({"tool": label, **result, **(_score(bins, meta, logs, peer) if bins else
                                                 {"why": f"exit {result['returncode']}: "
                                                         f"{_last_line(logs / f'{peer}.log')}"})})
        print(json.dumps(rows[-1]), flush=True)
    header = (f"| {'binner':<58} | species ARI | genome ARI | mean F1 | >90/<5 | >50/<10 | wall s | peak MB |")
    print(header + "\n|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for row in rows:
        if "why" in row:
            print(f"| {row['tool']:<58} | could not run: {row['why']} |")
            continue
        print(f"| {row['tool']:<58} | {row['species_ari']:>11.3f} | {row['genome_ari']:>10.3f} | "
              f"{row['mean_f1']:>7.3f} | {row['c90_x5']:>6} | {row['c50_x10']:>7} | {row['wall_s']:>6.0f} | "
              f"{row['peak_mb']:>7.0f} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"metagenome": summary, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
