"""Species-aware DNA embeddings (DNABERT-S, Zhou et al. 2024): C2LR training, clustering, few-shot, binning.

``run(protocol, context)``:

1. genomes: simulated (:func:`biocl.data.dna.simulate.simulate_genomes`) or read from the
   protocol's list; species are split into training, calibration, validation and test sets
   that share no species, genome or file, and the run asserts it;
2. training: C2LR through the shared trainer, phase I weighted SimCLR, phase II MI-Mix from
   phase I's weights (:mod:`biocl.pipelines.dna_species.training`), positives two non-overlapping
   segments of one training genome; after every epoch the validation species' K-means ARI is
   scored and each phase keeps its best epoch (early stopping with ``train.early_stopping_patience``);
3. evaluation, once, on contigs sampled from the test genomes (half reverse-complemented;
   ``evaluate.split: validation`` scores the validation species instead, for tuning sweeps,
   and never samples the test species):
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
    from biocl.pipelines.dna_species.quality import contig_quality
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
                          n_calibration=data.n_calibration_species, n_eval=data.n_eval_species, seed=protocol.seed,
                          n_validation=data.n_validation_species)
    disjointness = _assert_disjoint(catalogue, split)
    scored = "eval" if protocol.evaluate.split == "test" else "validation"
    if scored == "validation" and not split["validation"]:
        raise BioclError("evaluate.split is 'validation' but the protocol has no validation species",
                         path=protocol.source_path, hint="set data.n_validation_species (at least 2)")
    info(f"[dna_species] {len(catalogue)} genomes: species {len(split['train'])} train, "
         f"{len(split['calibration'])} calibration, {len(split['validation'])} validation, "
         f"{len(split['eval'])} test; scoring the {'test' if scored == 'eval' else 'validation'} species")

    groups = _training_groups(catalogue, split["train"], data.segment_bp)
    val_set = None
    if split["validation"]:
        val_set = _contig_set(protocol, catalogue, split["validation"], data_dir / "validation_contigs.fa",
                              seed=protocol.seed + 3,
                              n_per_genome=data.validation_contigs_per_genome or data.contigs_per_genome)
    # The scored species get as many contigs as the test species would (few-shot needs them), and
    # test contigs are sampled only when the test species are scored.
    if scored == "validation":
        eval_set = _contig_set(protocol, catalogue, split["validation"], data_dir / "validation_scored_contigs.fa",
                               seed=protocol.seed + 4)
    else:
        eval_set = _contig_set(protocol, catalogue, split["eval"], data_dir / "eval_contigs.fa", seed=protocol.seed + 1)
    cal_set = _contig_set(protocol, catalogue, split["calibration"], data_dir / "calibration_contigs.fa",
                          seed=protocol.seed + 2)

    # Measured on the scored contigs as read, before any training.
    data_quality = contig_quality(eval_set, what="test contigs" if scored == "eval" else "scored validation contigs")

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
    monitored = val_set is not None and protocol.evaluate.monitor_validation
    specs = build_phase_specs(protocol.phases(), model, train=protocol.train, groups=groups,
                              segment_bp=data.segment_bp, steps_per_epoch=steps, tau=loss_cfg.tau,
                              gather=loss_cfg.gather, mix_alpha=loss_cfg.mix_alpha, strand_flip=loss_cfg.strand_flip,
                              validate=_validation_scorer(protocol, val_set, device) if monitored else None,
                              monitor="validation_ari" if monitored else None)
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
    flow, exclusions = _flow(catalogue, split, groups, fit, eval_set, cal_set, scores, val_set=val_set,
                             scored=scored)
    provenance["scored_split"] = "test" if scored == "eval" else "validation"
    return assemble_result(protocol, scores, data=provenance, flow=flow, exclusions=exclusions,
                           disjointness=disjointness, model=_model_card(protocol, encoder, specs, fit),
                           checkpoint=checkpoint, device=device.type, validation=_validation_record(fit),
                           data_quality=data_quality)


def _validation_scorer(protocol: Protocol, val_set: dict[str, Any], device: Any) -> Any:
    """``validate(model) -> {"validation_ari"}``: K-means ARI of the validation contigs' embeddings."""
    from biocl.encoders.dna import embed_sequences
    from biocl.evaluate.clustering import kmeans_ari

    seqs = [r.seq for r in val_set["records"]]
    species = np.asarray(val_set["species"])

    def validate(model: Any) -> dict[str, float]:
        embeddings = embed_sequences(model.encoder, seqs, window_bp=protocol.data.window_bp,
                                     batch_size=protocol.model.embed_batch_size, device=device)
        ari, _ = kmeans_ari(embeddings, species, n_seeds=protocol.evaluate.kmeans_seeds)
        return {"validation_ari": float(ari)}

    return validate


def _validation_record(fit: Any) -> dict[str, Any]:
    """Per-epoch validation ARI of the training history (what chose each phase's best epoch)."""
    rows = [{"phase": r.get("phase"), "epoch": r.get("epoch"), "validation_ari": r["validation_ari"]}
            for r in fit.history if "validation_ari" in r]
    return {"monitor": "validation_ari" if rows else None, "epochs": rows}


def _model_card(protocol: Protocol, encoder: torch.nn.Module, specs: list, fit: Any) -> dict[str, Any]:
    model_cfg = protocol.model
    return {"name": model_cfg.encoder, "parameters": int(sum(p.numel() for p in encoder.parameters())),
            "spec": {**encoder.config(), "head": {"hidden_dim": model_cfg.head_hidden_dim or encoder.output_dim,
                                                  "out_dim": model_cfg.head_out_dim, "used": "training only"},
                     "phases": [{"name": s.phase.name, "loss": s.phase.loss, "epochs": s.phase.epochs}
                                for s in specs],
                     "train_steps": fit.steps, "stopped_early": fit.stopped_early}}


def _flow(catalogue: dict, split: dict[str, list[str]], groups: dict, fit: Any, eval_set: dict[str, Any],
          cal_set: dict[str, Any], scores: dict[str, Any], *, val_set: dict[str, Any] | None,
          scored: str) -> tuple[list[dict], list[dict]]:
    """The run's flow (genomes to embedded windows) and its exclusions (evaluation and calibration contigs)."""
    name = "test" if scored == "eval" else "validation (scored)"
    validation = [] if val_set is None or scored == "validation" else [
        {"stage": "validation species", "count": len(split["validation"]), "unit": "species"},
        {"stage": "validation contigs kept", "count": len(val_set["records"]), "unit": "sequences"}]
    flow = [
        {"stage": "genomes", "count": len(catalogue), "unit": "genomes"},
        {"stage": "training genomes", "count": sum(len(g) for g in groups.values()), "unit": "genomes"},
        {"stage": "training species", "count": len(groups), "unit": "species"},
        {"stage": "training steps", "count": int(fit.steps), "unit": "steps"},
        {"stage": "calibration contigs kept", "count": len(cal_set["records"]), "unit": "sequences"},
        *validation,
        {"stage": f"{name} species", "count": len(split[scored]), "unit": "species"},
        *[{**row, "stage": f"{name} {row['stage']}"} for row in eval_set["stats"].as_flow()],
        {"stage": f"{name} windows embedded", "count": scores["n_windows"], "unit": "windows"},
    ]
    exclusions = ([{**row, "reason": f"{name}: {row['reason']}"} for row in eval_set["stats"].as_exclusions()]
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


def split_species(species: list[str], *, n_calibration: int, n_eval: int, seed: int,
                  n_validation: int = 0) -> dict[str, list[str]]:
    """Split species into disjoint test (``eval``), calibration, validation and training sets.

    One seeded permutation: the first ``n_eval`` species are the test set, the next
    ``n_calibration`` the calibration set, the next ``n_validation`` the validation set, the
    rest train (so adding validation species leaves the test and calibration species as
    they were for the same seed).

    Raises
    ------
    BioclError
        When fewer than two training species would remain.
    """
    if len(species) < n_calibration + n_eval + n_validation + 2:
        raise BioclError(f"{len(species)} species cannot give {n_eval} test, {n_calibration} calibration, "
                         f"{n_validation} validation and at least 2 training species",
                         hint="add species or lower data.n_eval_species / n_calibration_species / "
                              "n_validation_species")
    order = [species[i] for i in np.random.default_rng(seed).permutation(len(species))]
    cuts = np.cumsum([n_eval, n_calibration, n_validation])
    return {"eval": sorted(order[:cuts[0]]), "calibration": sorted(order[cuts[0]:cuts[1]]),
            "validation": sorted(order[cuts[1]:cuts[2]]), "train": sorted(order[cuts[2]:])}


def _assert_disjoint(catalogue: dict[str, tuple[Path, str]], split: dict[str, list[str]]) -> dict[str, Any]:
    sets = {name: set(species) for name, species in split.items()}
    files = {name: {str(p.resolve()) for p, s in catalogue.values() if s in species} for name, species in sets.items()}
    names = sorted(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if sets[a] & sets[b] or files[a] & files[b]:
                raise AssertionError(f"species or genome files shared between {a} and {b}: {sets[a] & sets[b]}")
    return {"asserted": True,
            "description": f"training ({len(sets['train'])} species), calibration ({len(sets['calibration'])}), "
                           f"validation ({len(sets['validation'])}) and test ({len(sets['eval'])}) sets share no "
                           "species and no genome file; every strain of a species is on the same side (checked "
                           "at run time)"}


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
                *, seed: int, n_per_genome: int | None = None) -> dict[str, Any]:
    from biocl.data.dna.fasta import ReadStats, read_gold_standard, read_sequences
    from biocl.data.dna.simulate import sample_contigs

    data = protocol.data
    wanted = set(species)
    genomes = {label: path for label, (path, sp) in sorted(catalogue.items()) if sp in wanted}
    reads, gold = sample_contigs(genomes, out_path, n_per_genome=n_per_genome or data.contigs_per_genome,
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
