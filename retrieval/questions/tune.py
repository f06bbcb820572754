"""Choose the retrieval settings on the tune split, and nothing else.

Why a script: the fusion constants (RRF K, dense weight) and the decision to
expand BM25 with clinical synonyms must be reproducible and must provably
never see a held-out question. This script reads only `split == "tune"` rows
of questions.jsonl (it refuses any other split), ranks every tune question
once per retriever (dense, BM25 plain, BM25 with synonym expansion), then
scores the RRF grid and a repeated 5-fold cross-validation of the grid
choice, so a setting that only wins on a few questions shows up as such.

Run (single-threaded, ~1-2 min on a busy 2-core machine):

    .venv/bin/python retrieval/questions/tune.py [--reps 20]

Dense ranks use the same MiniLM embedder and passage text as the product's
Chroma index, with exact cosine search (330 statements: the HNSW index
returns the same neighbours).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

QUESTIONS = REPO / "retrieval" / "questions" / "questions.jsonl"
K_GRID = (2, 5, 10, 20, 40, 60)
W_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)
DEPTH = 50


def tune_questions() -> list[dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    tune = [q for q in rows if q["split"] == "tune"]
    if any(q["split"] != "tune" for q in tune) or not tune:
        raise SystemExit("tune.py works on the tune split only")
    return tune


def per_question(questions: list[dict], rankings: list[list[str]], k: int = 5) -> np.ndarray:
    """(recall@k, reciprocal rank@10) per question."""
    out = []
    for q, ranked in zip(questions, rankings, strict=True):
        rel = set(q["relevant"])
        recall = len(rel & set(ranked[:k])) / len(rel)
        rr = next((1.0 / i for i, d in enumerate(ranked[:10], 1) if d in rel), 0.0)
        out.append((recall, rr))
    return np.asarray(out)


def repeated_cv(grid: dict[tuple, np.ndarray], reps: int, seed: int = 0) -> np.ndarray:
    """Mean (recall, RR) when the setting is chosen on 4/5 of tune and scored
    on the remaining fifth, over `reps` random fold assignments."""
    n = next(iter(grid.values())).shape[0]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(reps):
        folds = rng.permutation(np.arange(n) % 5)
        scored = np.zeros((n, 2))
        for f in range(5):
            train = folds != f
            best = max(grid, key=lambda c: (round(grid[c][train, 0].mean(), 4), grid[c][train, 1].mean()))
            scored[~train] = grid[best][~train]
        means.append(scored.mean(0))
    return np.mean(means, axis=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--skip-grid", action="store_true", help="skip the RRF K x weight grid (round-3 choices only)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from retrieval.bm25 import BM25Index
    from retrieval.corpus_loader import load_corpus
    from retrieval.embedder import BundledMiniLMEmbedding
    from retrieval.search import lexical_query, lexical_text, rrf_fuse
    from retrieval.store import dense_text
    from retrieval.synonyms import expand

    questions = tune_questions()
    queries = [q["query"] for q in questions]
    passages = load_corpus(REPO / "retrieval" / "corpus").by_id()
    ids = list(passages)

    embedder = BundledMiniLMEmbedding()
    doc_vecs = embedder.encode([dense_text(p) for p in passages.values()])
    query_vecs = embedder.encode(queries)
    dense = [[ids[j] for j in np.argsort(-row)[:DEPTH]] for row in query_vecs @ doc_vecs.T]

    def unexpanded_text(p) -> str:
        return " ".join([p.section, p.text, " ".join(m.replace("_", " ") for m in p.measurements), " ".join(p.topics)])

    plain = BM25Index(ids, [unexpanded_text(p) for p in passages.values()])
    expanded = BM25Index(ids, [lexical_text(p) for p in passages.values()])
    assert lexical_text(next(iter(passages.values()))) == expand(unexpanded_text(next(iter(passages.values()))))
    lexical = {
        "bm25 plain": [[d for d, _ in plain.search(q, DEPTH)] for q in queries],
        "bm25 expanded": [[d for d, _ in expanded.search(lexical_query(q), DEPTH)] for q in queries],
    }

    print(f"tune split: {len(questions)} questions, {len(ids)} statements")
    for name, ranks in [("dense", dense), *lexical.items()]:
        r, rr = per_question(questions, ranks).mean(0)
        print(f"  {name:14s} recall@5 {r:.3f}  MRR@10 {rr:.3f}")
    for name, ranks in ([] if args.skip_grid else lexical.items()):
        grid = {
            (k, w): per_question(
                questions,
                [[d for d, _ in rrf_fuse([a, b], k=k, weights=[w, 1.0])] for a, b in zip(dense, ranks)],
            )
            for k in K_GRID
            for w in W_GRID
        }
        best = max(grid, key=lambda c: (round(grid[c][:, 0].mean(), 4), grid[c][:, 1].mean()))
        r, rr = grid[best].mean(0)
        cv_r, cv_rr = repeated_cv(grid, args.reps)
        print(f"\nhybrid = dense + {name}: best K={best[0]} dense weight={best[1]}: recall@5 {r:.3f} MRR {rr:.3f}; "
              f"{args.reps}x5-fold CV recall@5 {cv_r:.3f} MRR {cv_rr:.3f}")
        print("  recall@5 / MRR by K (rows) and dense weight (columns " + " ".join(str(w) for w in W_GRID) + ")")
        for k in K_GRID:
            print(f"  K={k:<3d} " + " ".join("%.3f/%.3f" % tuple(grid[(k, w)].mean(0)) for w in W_GRID))
    round3(questions, passages, dense, args.reps)
    return 0


PACEMAKER_VARIANTS = {
    "pacemaker = permanent pacing = pacing (session 2)": ("pacemaker", "permanent pacing", "pacing"),
    "pacemaker = permanent pacemaker = permanent pacing": ("pacemaker", "permanent pacemaker", "permanent pacing"),
    "no pacemaker group": None,
    "permanent pacing = permanent pacemaker = pacemaker implantation": (
        "permanent pacing", "permanent pacemaker", "pacemaker implantation", "pacemaker implant"),
}
NUMERIC_WEIGHTS = (0.0, 0.25, 0.5, 0.8, 1.0, 1.5)


def round3(questions: list[dict], passages: dict, dense: list[list[str]], reps: int) -> None:
    """Round-3 choices, tune split only: the "pacemaker" synonym group and
    the weight of the numeric-range vote, at the fixed K=10 / dense 0.8."""
    import retrieval.synonyms as synonyms
    from retrieval.bm25 import BM25Index
    from retrieval.numeric import NumericIndex, query_quantities
    from retrieval.search import DENSE_WEIGHT, RRF_K, fuse_with_numeric, lexical_query, lexical_text

    ids = list(passages)
    queries = [q["query"] for q in questions]
    original = synonyms.SYNONYM_GROUPS
    current = next(g for g in original if "permanent pacing" in g)
    base = [g for g in original if g is not current]
    numeric = NumericIndex({pid: p.text for pid, p in passages.items()})
    quantities = [query_quantities(q) for q in queries]
    print(f"\nround 3 (K={RRF_K}, dense weight {DENSE_WEIGHT}); current pacemaker group {current}; "
          f"{sum(bool(x) for x in quantities)} of {len(queries)} tune queries state a recognised value")
    try:
        for label, group in PACEMAKER_VARIANTS.items():
            groups = list(base)
            if group is not None:
                groups.insert(original.index(current), group)
            synonyms.SYNONYM_GROUPS = tuple(groups)
            synonyms._compiled.cache_clear()
            index = BM25Index(ids, [lexical_text(p) for p in passages.values()])
            lex = [[d for d, _ in index.search(lexical_query(q), DEPTH)] for q in queries]
            r, rr = per_question(questions, lex).mean(0)
            pacemaker_qs = [i for i, q in enumerate(queries) if "pacemaker" in q.lower()]
            pr = per_question([questions[i] for i in pacemaker_qs], [lex[i] for i in pacemaker_qs]).mean(0)
            print(f"  {label}: BM25 recall@5 {r:.3f} MRR {rr:.3f}; "
                  f"the {len(pacemaker_qs)} queries saying 'pacemaker': {pr[0]:.3f}/{pr[1]:.3f}")
            grid = {}
            for w in NUMERIC_WEIGHTS:
                ranked = [
                    [d for d, _ in fuse_with_numeric([a, b], [DENSE_WEIGHT, 1.0], qq, numeric, w)]
                    for a, b, qq in zip(dense, lex, quantities)
                ]
                grid[(w,)] = per_question(questions, ranked)
            with_value = np.array([bool(x) for x in quantities])
            cv_r, cv_rr = repeated_cv(grid, reps)
            print("    numeric weight " + "  ".join(
                f"{w}: {grid[(w,)][:, 0].mean():.3f}/{grid[(w,)][:, 1].mean():.3f}"
                f" (valued {grid[(w,)][with_value, 0].mean():.3f})" for w in NUMERIC_WEIGHTS))
            print(f"    {reps}x5-fold CV of the weight choice: recall@5 {cv_r:.3f} MRR {cv_rr:.3f}")
    finally:
        synonyms.SYNONYM_GROUPS = original
        synonyms._compiled.cache_clear()


if __name__ == "__main__":
    raise SystemExit(main())
