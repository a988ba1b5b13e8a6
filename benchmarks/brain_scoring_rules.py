"""The ridge baseline of a brain protocol under each scoring rule: validation and test top-10.

Usage::

    python benchmarks/brain_scoring_rules.py [PROTOCOL] [--set key=value ...]

Fits the protocol's ridge (one per training recording, penalty by grouped cross-validation),
then scores its validation and test windows under every rule of
``biocl.pipelines.brain_speech.evaluation.score_windows``. A run chooses the rule on
validation only; the test column is here to show what the choice changed (the "loss" row is
the ridge before the rule was chosen, the row the run picks is after). Prints a Markdown table.
"""

from __future__ import annotations

import argparse

import torch

from biocl.evaluate.retrieval import top_k_accuracy, true_ranks
from biocl.pipelines.brain_speech import evaluation
from biocl.pipelines.brain_speech.data import prepare_data
from biocl.protocols.base import load_protocol
from biocl.utils.cache import default_cache_dir

RULES = ("loss", "correlation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol", nargs="?", default="protocols/brain_speech_quick.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    protocol = load_protocol(args.protocol, args.overrides)
    bundle = prepare_data(protocol, default_cache_dir())
    ev, normalize = protocol.evaluate, protocol.loss.normalize
    models = evaluation.fit_ridge(bundle, ev)
    top10 = {}
    for split in ("valid", "test"):
        rows = bundle.rows(split)
        candidates, _, true = evaluation.candidate_matrix(bundle, split, rows, normalize)
        predict = evaluation.ridge_predictor(bundle, models, ev, split)
        for rule in RULES:
            scores = evaluation.score_windows(predict, bundle, split, rows, candidates, normalize=normalize,
                                              batch_size=ev.batch_size, device=torch.device("cpu"),
                                              rule=rule)
            top10[split, rule] = top_k_accuracy(true_ranks(scores, true), 10)
        top10[split, "chance"] = min(10, candidates.shape[0]) / candidates.shape[0]
    chosen = max(RULES, key=lambda rule: (top10["valid", rule], -RULES.index(rule)))
    print(f"ridge penalties: {', '.join(f'{m.alpha_:g}' for m in models.values())}; chosen rule: {chosen}\n")
    print("| rule | validation top-10 | test top-10 |\n|---|---|---|")
    for rule in (*RULES, "chance"):
        print(f"| {rule} | {top10['valid', rule]:.3f} | {top10['test', rule]:.3f} |")


if __name__ == "__main__":
    main()
