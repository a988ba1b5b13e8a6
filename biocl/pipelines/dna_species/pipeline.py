"""Species-aware DNA embeddings (DNABERT-S, Zhou et al. 2024): C2LR training, clustering, few-shot, binning.

``run(protocol, context)``:

1. genomes: simulated (:func:`biocl.data.dna.simulate.simulate_genomes`) or read from the
   protocol's list; species are split into training, calibration and evaluation sets that
   share no species, genome or file, and the run asserts it;
2. training: C2LR through the shared trainer, phase I weighted SimCLR, phase II MI-Mix from
   phase I's weights (:mod:`biocl.pipelines.dna_species.training`), positives two non-overlapping
   segments of one training genome;
3. evaluation on contigs sampled from the held-out genomes (half reverse-complemented):
   K-means ARI (primary endpoint), few-shot macro-F1, binning with the paper's K-medoid and
   the kNN-graph binner side by side (threshold calibrated on the calibration species),
   AMBER metrics, for the trained encoder and for TNF, canonical TNF and TNF-K on the same
   contigs (:mod:`biocl.pipelines.dna_species.scoring`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_file, sha256_files
from biocl.utils.seeding import seeded
from biocl.protocols.base import Protocol
from biocl.pipelines.runs import PipelineResult, RunContext

__all__ = ["run", "split_species", "load_genomes"]


def run(protocol: Protocol, context: RunContext) -> PipelineResult:
    """Run the ``dna_species`` pipeline; see the module docstring."""
    from biocl.utils.console import info
    from biocl.pipelines.dna_species.scoring import assemble_result, score_all
    from biocl.pipelines.dna_species.training import ContrastiveDnaModel, build_phase_specs
    from biocl.train import Trainer, select_device

    data, model_cfg, loss_cfg = protocol.data, protocol.model, protocol.loss
    if protocol.train.threads is not None:
        torch.set_num_threads(protocol.train.threads)
    device = select_device(protocol.train.device)
    data_dir = context.run_dir / "data"
    catalogue, provenance = load_genomes(protocol, data_dir)
    split = split_species(sorted({species for _, species in catalogue.values()}),
                          n_calibration=data.n_calibration_species, n_eval=data.n_eval_species, seed=protocol.seed)
    disjointness = _assert_disjoint(catalogue, split)
    info(f"[dna_species] {len(catalogue)} genomes: species {len(split['train'])} train, "
         f"{len(split['calibration'])} calibration, {len(split['eval'])} evaluation")

    groups = _training_groups(catalogue, split["train"], data.segment_bp)
    eval_set = _contig_set(protocol, catalogue, split["eval"], data_dir / "eval_contigs.fa", seed=protocol.seed + 1)
    cal_set = _contig_set(protocol, catalogue, split["calibration"], data_dir / "calibration_contigs.fa",
                          seed=protocol.seed + 2)

    # The encoder and its head draw their initial weights from the protocol's seed alone.
    with seeded(protocol.seed):
        encoder = _build_encoder(protocol)
        before = copy.deepcopy(encoder) if "before_training" in protocol.evaluate.baselines else None
        model = ContrastiveDnaModel(encoder, head_hidden_dim=model_cfg.head_hidden_dim,
                                    head_out_dim=model_cfg.head_out_dim,
                                    head_lr_multiplier=model_cfg.head_lr_multiplier,
                                    both_strands=loss_cfg.train_both_strands)
    batch_size = protocol.train.batch_size
    steps = max(data.pairs_per_epoch // batch_size, 1)
    specs = build_phase_specs(protocol.phases(), model, train=protocol.train, groups=groups,
                              segment_bp=data.segment_bp, steps_per_epoch=steps, tau=loss_cfg.tau,
                              gather=loss_cfg.gather, mix_alpha=loss_cfg.mix_alpha, strand_flip=loss_cfg.strand_flip)
    fit = Trainer(model, protocol.train, run=context, seed=protocol.seed, device=device).fit(specs)
    encoder = Trainer.unwrap(model).encoder

    checkpoint = {"path": None, "sha256": None}
    if encoder.savable and context.is_main:
        path = context.checkpoint_dir / "encoder.safetensors"
        checkpoint = {"path": str(path), "sha256": encoder.save(path)}
    elif fit.last is not None:
        checkpoint = {"path": str(fit.last), "sha256": sha256_file(fit.last)}

    scores = score_all(protocol, encoder, eval_set, cal_set, device=device, before=before)
    provenance["sha256"] = sha256_files([p for p, _ in catalogue.values()] + [eval_set["path"], cal_set["path"]])
    flow, exclusions = _flow(catalogue, split, groups, fit, eval_set, cal_set, scores)
    return assemble_result(protocol, scores, data=provenance, flow=flow, exclusions=exclusions,
                           disjointness=disjointness, model=_model_card(protocol, encoder, specs, fit),
                           checkpoint=checkpoint, device=device.type)


def _model_card(protocol: Protocol, encoder: torch.nn.Module, specs: list, fit: Any) -> dict[str, Any]:
    model_cfg = protocol.model
    return {"name": model_cfg.encoder, "parameters": int(sum(p.numel() for p in encoder.parameters())),
            "spec": {**encoder.config(), "head": {"hidden_dim": model_cfg.head_hidden_dim or encoder.output_dim,
                                                  "out_dim": model_cfg.head_out_dim, "used": "training only"},
                     "phases": [{"name": s.phase.name, "loss": s.phase.loss, "epochs": s.phase.epochs}
                                for s in specs],
                     "train_steps": fit.steps, "stopped_early": fit.stopped_early}}


def _flow(catalogue: dict, split: dict[str, list[str]], groups: dict, fit: Any, eval_set: dict[str, Any],
          cal_set: dict[str, Any], scores: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The run's flow (genomes to embedded windows) and its exclusions (evaluation and calibration contigs)."""
    flow = [
        {"stage": "genomes", "count": len(catalogue), "unit": "genomes"},
        {"stage": "training genomes", "count": sum(len(g) for g in groups.values()), "unit": "genomes"},
        {"stage": "training species", "count": len(groups), "unit": "species"},
        {"stage": "training steps", "count": int(fit.steps), "unit": "steps"},
        {"stage": "calibration contigs kept", "count": len(cal_set["records"]), "unit": "sequences"},
        {"stage": "evaluation species", "count": len(split["eval"]), "unit": "species"},
        *[{**row, "stage": f"evaluation {row['stage']}"} for row in eval_set["stats"].as_flow()],
        {"stage": "evaluation windows embedded", "count": scores["n_windows"], "unit": "windows"},
    ]
    exclusions = ([{**row, "reason": f"evaluation: {row['reason']}"} for row in eval_set["stats"].as_exclusions()]
                  + [{**row, "reason": f"calibration: {row['reason']}"} for row in cal_set["stats"].as_exclusions()])
    return flow, exclusions


def load_genomes(protocol: Protocol, data_dir: Path) -> tuple[dict[str, tuple[Path, str]], dict[str, Any]]:
    """Genome label -> (FASTA path, species), simulated or from the protocol, and the data provenance."""
    data = protocol.data
    if data.source == "simulated":
        from biocl.data.dna.simulate import simulate_genomes

        simulated = simulate_genomes(data_dir / "genomes", n_species=data.n_species,
                                     strains_per_species=data.strains_per_species, genome_bp=data.genome_bp,
                                     strain_divergence=data.strain_divergence,
                                     codon_adaptation=data.codon_adaptation, seed=protocol.seed)
        catalogue = {label: (Path(path), simulated.species[label]) for label, path in simulated.genomes.items()}
        provenance = {"simulated": True,
                      "description": f"simulated genomes: {data.n_species} species x {data.strains_per_species} "
                                     f"strains of {data.genome_bp} bp (strain divergence {data.strain_divergence}, "
                                     f"codon adaptation {data.codon_adaptation}), species grouped in phyla of "
                                     f"similar composition; contigs sampled from "
                                     f"held-out species, {data.reverse_complement_fraction:.0%} reverse-complemented",
                      "source": "biocl.data.dna.simulate.simulate_genomes", "licence": "generated data, no restriction"}
        return catalogue, provenance
    catalogue = {}
    for genome in data.genomes:
        path = protocol.resolve_path(genome.path)
        if not path.is_file():
            raise BioclError("genome file not found", path=path, hint="fix data.genomes[].path")
        label = genome.label or path.name
        if label in catalogue:
            raise BioclError(f"genome label {label!r} appears twice in data.genomes", path=protocol.source_path)
        catalogue[label] = (path, genome.species)
    provenance = {"simulated": False, "description": f"{len(catalogue)} genomes listed in the protocol",
                  "source": ", ".join(sorted(str(p) for p, _ in catalogue.values()))[:2000],
                  "licence": "as the genome files' sources"}
    return catalogue, provenance


def split_species(species: list[str], *, n_calibration: int, n_eval: int, seed: int) -> dict[str, list[str]]:
    """Split species into disjoint evaluation, calibration and training sets (a seeded permutation).

    Raises
    ------
    BioclError
        When fewer than two training species would remain.
    """
    if len(species) < n_calibration + n_eval + 2:
        raise BioclError(f"{len(species)} species cannot give {n_eval} evaluation, {n_calibration} calibration "
                         "and at least 2 training species",
                         hint="add species or lower data.n_eval_species / data.n_calibration_species")
    order = [species[i] for i in np.random.default_rng(seed).permutation(len(species))]
    return {"eval": sorted(order[:n_eval]), "calibration": sorted(order[n_eval:n_eval + n_calibration]),
            "train": sorted(order[n_eval + n_calibration:])}


def _assert_disjoint(catalogue: dict[str, tuple[Path, str]], split: dict[str, list[str]]) -> dict[str, Any]:
    sets = {name: set(species) for name, species in split.items()}
    files = {name: {str(p.resolve()) for p, s in catalogue.values() if s in species} for name, species in sets.items()}
    for a, b in (("train", "eval"), ("train", "calibration"), ("eval", "calibration")):
        if sets[a] & sets[b] or files[a] & files[b]:
            raise AssertionError(f"species or genome files shared between {a} and {b}: {sets[a] & sets[b]}")
    return {"asserted": True,
            "description": f"training ({len(sets['train'])} species), calibration ({len(sets['calibration'])}) and "
                           f"evaluation ({len(sets['eval'])}) sets share no species and no genome file; every "
                           "strain of a species is on the same side (checked at run time)"}


def _training_groups(catalogue: dict[str, tuple[Path, str]], species: list[str],
                     segment_bp: int) -> dict[str, dict[str, list[str]]]:
    from biocl.data.dna.fasta import read_sequences

    wanted = set(species)
    groups: dict[str, dict[str, list[str]]] = {}
    for label, (path, sp) in sorted(catalogue.items()):
        if sp in wanted:
            seqs = [r.seq for r in read_sequences(path, min_length_bp=1) if r.length_bp >= segment_bp]
            if seqs:
                groups.setdefault(sp, {})[label] = seqs
    if len(groups) < 2:
        raise BioclError(f"fewer than 2 training species have a sequence of {segment_bp} bp or more",
                         hint="lower data.segment_bp or add genomes")
    return groups


def _contig_set(protocol: Protocol, catalogue: dict[str, tuple[Path, str]], species: list[str], out_path: Path,
                *, seed: int) -> dict[str, Any]:
    from biocl.data.dna.fasta import ReadStats, read_gold_standard, read_sequences
    from biocl.data.dna.simulate import sample_contigs

    data = protocol.data
    wanted = set(species)
    genomes = {label: path for label, (path, sp) in sorted(catalogue.items()) if sp in wanted}
    reads, gold = sample_contigs(genomes, out_path, n_per_genome=data.contigs_per_genome,
                                 length_bp=data.contig_length_bp, substitution_rate=data.substitution_rate,
                                 insertion_rate=data.insertion_rate, deletion_rate=data.deletion_rate,
                                 reverse_complement_fraction=data.reverse_complement_fraction, seed=seed)
    truth = read_gold_standard(gold)
    stats = ReadStats()
    records = list(read_sequences(reads, min_length_bp=data.min_length_bp, ambiguous=data.ambiguous, stats=stats))
    genome_labels = [truth[r.id] for r in records]
    return {"path": reads, "records": records, "stats": stats, "genomes": genome_labels,
            "species": [catalogue[g][1] for g in genome_labels]}


def _build_encoder(protocol: Protocol) -> torch.nn.Module:
    from biocl.encoders.dna import DnaConvEncoder, load_dna_encoder

    cfg = protocol.model
    if cfg.encoder == "pretrained":
        from biocl.encoders.pretrained.dnabert import PretrainedDnaEncoder

        return PretrainedDnaEncoder(protocol.resolve_path(cfg.checkpoint), trust_remote_code=cfg.trust_remote_code,
                                    max_tokens=cfg.max_tokens, mix_layers=cfg.mix_layers)
    if cfg.checkpoint:
        return load_dna_encoder(protocol.resolve_path(cfg.checkpoint))
    return DnaConvEncoder(k=cfg.k, dim=cfg.dim, n_blocks=cfg.n_blocks, kernel_size=cfg.kernel_size,
                          downsample=cfg.downsample, both_strands=cfg.both_strands)
