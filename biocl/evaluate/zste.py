"""Zero-shot temporal evaluation (ZSTE), CompA-order scores, zero-shot classification and retrieval.

Every score compares L2-normalised audio and caption embeddings by cosine similarity
times the model's logit scale, ``exp(log_scale) * cos(u, t)``, as CLAP does. The five
ZSTE tasks (Sinha et al. 2024, reference section 3), for ``C`` classes:

1. a single clip vs the ``C`` prompts "this is a sound of <class>": top-1 (chance ``1/C``);
2. an overlay "A while B" vs the same prompts: the top-2 must be exactly {A, B}
   (chance ``1 / (C choose 2)``);
3. a forward ("A before B") or reversed ("B before A") join vs the three captions
   "A before B", "B before A", "A while B": top-1 (chance 1/3);
4. a forward join vs ``n_candidates`` captions "X before Y" / "X while Y" that include the
   true one: top-1 (chance ``1/n_candidates``); the distractors are drawn once per item
   from a Generator seeded by the caller, so the task is the same on every run;
5. a forward join vs the ``2 C`` prompts "the first sound is <class>" and "the second
   sound is <class>": the top-2 must be exactly {first is A, second is B}.

CompA-order scores (Winoground style) on each forward/reversed pair with captions
``t_f`` = "A before B", ``t_r`` = "B before A": the text score is 1 when each clip prefers
its own caption, the audio score when each caption prefers its own clip, the group score
when both hold (chance 25 / 25 / 16.7 %).

Ties count against the truth in every task (:mod:`biocl.evaluate.ranking`): a model whose
embeddings cannot tell the items apart scores at or below chance, wherever the true caption
sits among the candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

from biocl.evaluate.ranking import predicted_column, ranked_relevance, top_k_hits, top_set_exact
from biocl.utils.templates import fill_template

__all__ = [
    "ZsteTemplates",
    "ZsteSet",
    "ZsteResult",
    "scaled_cosine",
    "top1_correct",
    "top2_exact",
    "compa_order_scores",
    "retrieval_metrics",
    "task4_candidates",
    "evaluate_zste",
    "CHANCE",
]

CHANCE = {"zste_task3": 1 / 3, "compa_text": 0.25, "compa_audio": 0.25, "compa_group": 1 / 6}


@dataclass(frozen=True)
class ZsteTemplates:
    """Caption templates of the evaluation (``{a}``, ``{b}`` are class names)."""

    single: str = "this is a sound of {a}"
    before: str = "{a} before {b}"
    while_: str = "{a} while {b}"
    first: str = "the first sound is {a}"
    second: str = "the second sound is {a}"


@dataclass
class ZsteSet:
    """The evaluation items: single clips and composed pairs, with their class indices.

    Attributes
    ----------
    class_names : list of str
        Names of the ``C`` classes as they appear in captions.
    singles : np.ndarray of shape (n_single, n_samples)
        Single clips (task 1).
    single_labels : np.ndarray of shape (n_single,)
        Class index of each single clip.
    pair_classes : np.ndarray of shape (n_pairs, 2)
        ``(A, B)`` class indices of each composed pair; the forward join is A then B.
    forward, reversed : np.ndarray of shape (n_pairs, 2 n_samples + gap)
        The joins A then B and B then A (the same two clips).
    overlay : np.ndarray of shape (n_pairs, n_samples)
        A while B.
    pair_ids : list of str
        An identifier per composed pair (``"A|B#k"``: the k-th instance of that pair).
    """

    class_names: list[str]
    singles: np.ndarray
    single_labels: np.ndarray
    pair_classes: np.ndarray
    forward: np.ndarray
    reversed: np.ndarray
    overlay: np.ndarray
    pair_ids: list[str] = field(default_factory=list)


@dataclass
class ZsteResult:
    """Scores of one model on one :class:`ZsteSet`.

    Attributes
    ----------
    metrics : dict of str to float
        ``zste_task1`` ... ``zste_task5``, ``compa_text|audio|group``,
        ``retrieval_a2t_r1|r5|r10|map10`` and ``retrieval_t2a_...``.
    per_item : dict of str to np.ndarray
        Per-item correctness (0/1) of every task, in item order: ``task1`` over single
        clips, ``task2``, ``task4``, ``task5``, ``compa_*`` over pairs, ``task3`` over the
        forward joins then the reversed joins.
    task3_predictions : np.ndarray of shape (2 n_pairs,)
        The caption picked (0: "A before B", 1: "B before A", 2: "A while B").
    task3_truth : np.ndarray of shape (2 n_pairs,)
    example_similarity : np.ndarray of shape (3, 3)
        Scaled similarity of the first pair's forward/reversed/overlay clip (rows) to its
        three captions (columns), for the report's heatmap.
    example_captions : list of str
    """

    metrics: dict[str, float]
    per_item: dict[str, np.ndarray]
    task3_predictions: np.ndarray
    task3_truth: np.ndarray
    example_similarity: np.ndarray
    example_captions: list[str]


def scaled_cosine(audio: np.ndarray, text: np.ndarray, log_scale: float) -> np.ndarray:
    """``exp(log_scale) * cos(audio_i, text_j)``, shape (n_audio, n_text), float64."""
    audio = np.asarray(audio, dtype=np.float64)
    text = np.asarray(text, dtype=np.float64)
    audio = audio / np.maximum(np.linalg.norm(audio, axis=1, keepdims=True), 1e-12)
    text = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    return float(np.exp(log_scale)) * audio @ text.T


def top1_correct(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1.0 where column ``truth[row]`` scores strictly above every other column of a row, else 0.0."""
    return top_k_hits(scores, truth, k=1)


def top2_exact(scores: np.ndarray, truth_pairs: np.ndarray) -> np.ndarray:
    """1.0 where the two best columns of a row are exactly the set ``truth_pairs[row]`` (ties against it)."""
    return top_set_exact(scores, truth_pairs)


def compa_order_scores(s_ff: np.ndarray, s_fr: np.ndarray, s_rf: np.ndarray, s_rr: np.ndarray) -> dict[str, np.ndarray]:
    """Winoground-style text, audio and group scores per forward/reversed pair.

    Parameters
    ----------
    s_ff, s_fr, s_rf, s_rr : np.ndarray of shape (n_pairs,)
        Similarity of (forward clip, forward caption), (forward clip, reversed caption),
        (reversed clip, forward caption) and (reversed clip, reversed caption).

    Returns
    -------
    dict
        ``text``, ``audio``, ``group``: 0/1 arrays of shape (n_pairs,).
    """
    # Strict comparisons: a tie counts against the truth.
    text = (s_ff > s_fr) & (s_rr > s_rf)
    audio = (s_ff > s_rf) & (s_rr > s_fr)
    return {"text": text.astype(float), "audio": audio.astype(float), "group": (text & audio).astype(float)}


def retrieval_metrics(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k and mAP@10 of a query-by-gallery score matrix.

    Parameters
    ----------
    scores : np.ndarray of shape (n_queries, n_gallery)
    relevant : np.ndarray of bool, same shape
        Which gallery items are right for each query (at least one per query).
    ks : sequence of int
        The cut-offs of recall (a hit when any relevant item is in the top k).

    Returns
    -------
    dict
        ``r<k>`` for each k and ``map10``: the mean over queries of the average precision
        of the top 10, normalised by ``min(n_relevant, 10)``.
    """
    hits = ranked_relevance(scores, relevant)
    out = {f"r{k}": float(hits[:, :k].any(axis=1).mean()) for k in ks}
    top = hits[:, :10].astype(float)
    precision = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    denominator = np.minimum(hits.sum(axis=1), 10).clip(min=1)
    out["map10"] = float(((precision * top).sum(axis=1) / denominator).mean())
    return out


def task4_candidates(class_names: Sequence[str], pair_classes: np.ndarray, templates: ZsteTemplates,
                     n_candidates: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The caption pool of task 4 and, per item, which captions compete (the true one first).

    The pool holds "X before Y" for every ordered pair and "X while Y" for every unordered
    pair (in class order). Each item gets its true caption plus ``n_candidates - 1``
    distractors drawn without replacement from ``rng``.

    Returns
    -------
    pool : list of str
    candidates : np.ndarray of shape (n_pairs, n) of pool indices, column 0 the true caption
    truth : np.ndarray of shape (n_pairs,), zeros (the true caption's column)
    """
    c = len(class_names)
    pool = [fill_template(templates.before, class_names[x], class_names[y]) for x, y in permutations(range(c), 2)]
    pool += [fill_template(templates.while_, class_names[x], class_names[y])
             for x in range(c) for y in range(x + 1, c)]
    index = {caption: i for i, caption in enumerate(pool)}
    n = min(n_candidates, len(pool))
    rows = []
    for a, b in pair_classes:
        true = index[fill_template(templates.before, class_names[a], class_names[b])]
        others = np.array([i for i in range(len(pool)) if i != true])
        rows.append(np.concatenate([[true], rng.choice(others, size=n - 1, replace=False)]))
    return pool, np.array(rows, dtype=int).reshape(len(rows), n), np.zeros(len(rows), dtype=int)


def evaluate_zste(embed_audio: Callable[[np.ndarray], np.ndarray], embed_text: Callable[[list[str]], np.ndarray],
                  log_scale: float, items: ZsteSet, templates: ZsteTemplates = ZsteTemplates(), *,
                  n_task4_candidates: int = 50, seed: int = 0) -> ZsteResult:
    """Score a model on every ZSTE task, CompA-order and retrieval.

    Parameters
    ----------
    embed_audio : callable
        ``(n, n_samples) float32 array -> (n, d) array``: whole clips of equal length in,
        embeddings out. Must be deterministic (the model in evaluation mode).
    embed_text : callable
        ``list of captions -> (n, d) array``.
    log_scale : float
        The model's log logit scale (similarities are ``exp(log_scale) * cos``).
    items : ZsteSet
        The evaluation clips and pairs.
    templates : ZsteTemplates
        Caption templates.
    n_task4_candidates : int
        Captions per item in task 4.
    seed : int
        Seed of the Generator drawing task 4's distractors.

    Returns
    -------
    ZsteResult
    """
    names = items.class_names
    c = len(names)
    a_idx, b_idx = items.pair_classes[:, 0], items.pair_classes[:, 1]
    n_pairs = len(a_idx)
    prompts = embed_text([fill_template(templates.single, name) for name in names])
    per_item: dict[str, np.ndarray] = {}

    single = embed_audio(items.singles)
    per_item["task1"] = top1_correct(scaled_cosine(single, prompts, log_scale), items.single_labels)

    overlay = embed_audio(items.overlay)
    per_item["task2"] = top2_exact(scaled_cosine(overlay, prompts, log_scale), items.pair_classes)

    forward, reverse = embed_audio(items.forward), embed_audio(items.reversed)
    before_ab = [fill_template(templates.before, names[a], names[b]) for a, b in zip(a_idx, b_idx)]
    before_ba = [fill_template(templates.before, names[b], names[a]) for a, b in zip(a_idx, b_idx)]
    while_ab = [fill_template(templates.while_, names[a], names[b]) for a, b in zip(a_idx, b_idx)]
    t_ab, t_ba, t_while = embed_text(before_ab), embed_text(before_ba), embed_text(while_ab)
    triplets = np.stack([t_ab, t_ba, t_while], axis=1)  # (n_pairs, 3, d)
    joins = np.concatenate([forward, reverse])
    join_captions = np.concatenate([triplets, triplets])
    task3_scores = np.stack([np.diag(scaled_cosine(joins, join_captions[:, k], log_scale)) for k in range(3)], axis=1)
    task3_truth = np.concatenate([np.zeros(n_pairs, dtype=int), np.ones(n_pairs, dtype=int)])
    per_item["task3"] = top1_correct(task3_scores, task3_truth)

    pool, candidates, truth4 = task4_candidates(names, items.pair_classes, templates, n_task4_candidates,
                                                np.random.default_rng(seed))
    pool_scores = scaled_cosine(forward, embed_text(pool), log_scale)
    per_item["task4"] = top1_correct(np.take_along_axis(pool_scores, candidates, axis=1), truth4)

    positional = embed_text([fill_template(templates.first, n) for n in names]
                            + [fill_template(templates.second, n) for n in names])
    per_item["task5"] = top2_exact(scaled_cosine(forward, positional, log_scale), np.stack([a_idx, c + b_idx], axis=1))

    s_ff, s_fr = task3_scores[:n_pairs, 0], task3_scores[:n_pairs, 1]
    s_rf, s_rr = task3_scores[n_pairs:, 0], task3_scores[n_pairs:, 1]
    for key, values in compa_order_scores(s_ff, s_fr, s_rf, s_rr).items():
        per_item[f"compa_{key}"] = values

    metrics = {f"zste_task{k}": float(per_item[f"task{k}"].mean()) for k in range(1, 6)}
    metrics.update({k: float(per_item[k].mean()) for k in ("compa_text", "compa_audio", "compa_group")})
    metrics.update(_composition_retrieval(forward, reverse, overlay, before_ab, before_ba, while_ab,
                                          t_ab, t_ba, t_while, log_scale))
    example = scaled_cosine(np.stack([forward[0], reverse[0], overlay[0]]), triplets[0], log_scale)
    return ZsteResult(metrics=metrics, per_item=per_item, task3_predictions=predicted_column(task3_scores, task3_truth),
                      task3_truth=task3_truth, example_similarity=example,
                      example_captions=[before_ab[0], before_ba[0], while_ab[0]])


def _composition_retrieval(forward: np.ndarray, reverse: np.ndarray, overlay: np.ndarray, before_ab: list[str],
                           before_ba: list[str], while_ab: list[str], t_ab: np.ndarray, t_ba: np.ndarray,
                           t_while: np.ndarray, log_scale: float) -> dict[str, float]:
    """Audio-to-caption and caption-to-audio retrieval over every composed clip.

    The gallery of captions holds each distinct caption once; clips of several instances
    of a pair share their caption, so a caption query can have several right clips.
    """
    audio = np.concatenate([forward, reverse, overlay])
    captions = before_ab + before_ba + while_ab
    text = np.concatenate([t_ab, t_ba, t_while])
    unique: dict[str, int] = {}
    for caption in captions:
        unique.setdefault(caption, len(unique))
    first_row = {caption: captions.index(caption) for caption in unique}
    gallery = text[[first_row[caption] for caption in unique]]
    audio_caption = np.array([unique[caption] for caption in captions])
    relevant = audio_caption[:, None] == np.arange(len(unique))[None, :]
    scores = scaled_cosine(audio, gallery, log_scale)
    out = {f"retrieval_a2t_{k}": v for k, v in retrieval_metrics(scores, relevant).items()}
    out.update({f"retrieval_t2a_{k}": v for k, v in retrieval_metrics(scores.T, relevant.T).items()})
    return out
