"""Guideline index build time and warm query latency (dense, BM25, hybrid).

Everything is measured in one process, and reported beside a baseline run
in the same process (BM25 only), so the ratios hold on any machine even
when the absolute milliseconds move with load:

- build: parse+validate the corpus, BM25 index (baseline), model load,
  dense index (embed every statement into a fresh Chroma store), reopening
  an up-to-date index (what every later process pays);
- query: per-query latency of `Retriever.search_hits(k=5)` for each mode,
  warm (model loaded, index open) but with the query-vector cache cleared
  before each query, so every dense/hybrid query pays its embedding. The
  modes are interleaved per query so background load hits them alike;
- findings: `search_for_findings` for a three-finding case (LVEF 35%,
  QTc 510 ms, AF), the retrieve node's real call.

    .venv/bin/python benchmarks/retrieval_latency.py [--queries N] [--repeat R] [--home DIR] [--json out.json]
        [--compare-session1] [--compare-numeric] [--compare-memory]

--compare-session1 adds an interleaved A/B of hybrid queries against the
session-1 lexical side (what the session-2 synonym expansion costs);
--compare-numeric one against the same engine without the round-3
numeric-range vote (what parsing values and ranges costs per query);
--compare-memory one without the session-3 question memory (what the BM25
pass over the labelled questions costs per query).

The index is built in a temporary CARDIO_HOME unless --home is given.
Target (issue 7): hybrid p95 ≤ 50 ms warm.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FALLBACK_QUERIES = [
    "QTc 510 ms",
    "LVEF 35% symptomatic → HFrEF therapy",
    "criteria for complete LBBB",
    "anticoagulation threshold CHA2DS2-VA",
    "ST elevation criteria in V2-V3 for a man under 40",
    "TAPSE 14 mm",
    "E/e' 16 with LAVI 40 mL/m2",
    "first-degree AV block PR 240 ms",
    "LV mass index upper limit in women",
    "ICD after cardiac arrest due to VF",
]
CASE_FINDINGS = [
    {"kind": "measurement", "name": "lvef", "label": "LVEF", "value": 35.0, "unit": "%", "flag": "low", "status": None},
    {"kind": "measurement", "name": "qtc_fridericia", "label": "QTc", "value": 510.0, "unit": "ms", "flag": "high", "status": None},
    {"kind": "statement", "name": "atrial_fibrillation", "label": "Atrial fibrillation", "value": None, "unit": None, "flag": None, "status": "present"},
]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(q / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms),
        "max_ms": max(ms),
    }


def load_queries(limit: int | None) -> list[str]:
    path = REPO / "retrieval" / "questions" / "questions.jsonl"
    if path.is_file():
        queries = [json.loads(line)["query"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        queries = list(FALLBACK_QUERIES)
    return queries[:limit] if limit else queries


def compare_session1(retriever, queries: list[str]) -> dict[str, dict[str, float]]:
    """Hybrid latency with the current lexical side vs the session-1 one
    (unexpanded BM25 text and queries, no spelling folding, dense weight 0.6),
    alternating per query so load hits both alike. Restores the current engine."""
    import retrieval.bm25 as bm25_module
    import retrieval.search as search_module
    from retrieval.bm25 import BM25Index

    current = (retriever.bm25, search_module.lexical_query, bm25_module.fold_spelling, search_module.DENSE_WEIGHT,
               search_module.NUMERIC_WEIGHT)
    bm25_module.fold_spelling = lambda text: text
    session1_bm25 = BM25Index(
        list(retriever.passages),
        [" ".join([p.section, p.text, " ".join(m.replace("_", " ") for m in p.measurements), " ".join(p.topics)])
         for p in retriever.passages.values()],
    )
    bm25_module.fold_spelling = current[2]
    session1 = (session1_bm25, lambda query: query, lambda text: text, 0.6, 0.0)

    def use(engine) -> None:
        (retriever.bm25, search_module.lexical_query, bm25_module.fold_spelling, search_module.DENSE_WEIGHT,
         search_module.NUMERIC_WEIGHT) = engine

    try:
        return interleaved_latency(retriever, queries, {"current": lambda: use(current), "session1": lambda: use(session1)})
    finally:
        use(current)


def compare_weight(retriever, queries: list[str], name: str, labels: tuple[str, str]) -> dict[str, dict[str, float]]:
    """Hybrid latency with the search constant `name` (a vote's weight) as
    shipped and at 0, alternating per query so load hits both alike.
    Restores the shipped weight."""
    import retrieval.search as search_module

    weight = getattr(search_module, name)

    def set_weight(w: float) -> None:
        setattr(search_module, name, w)

    try:
        return interleaved_latency(retriever, queries, {labels[0]: lambda: set_weight(weight), labels[1]: lambda: set_weight(0.0)})
    finally:
        set_weight(weight)


def interleaved_latency(retriever, queries: list[str], variants: dict[str, Callable[[], None]]) -> dict[str, dict[str, float]]:
    """Warm hybrid latency (wall and CPU, ms) of each engine variant, run
    query by query in alternating order so background load hits all alike.
    Each variant is a function that switches the retriever to it; the
    caller restores its engine afterwards."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for i, q in enumerate(queries):
        order = list(variants.items())
        for name, switch in order if i % 2 else order[::-1]:
            switch()
            retriever.clear_query_cache()
            c = time.process_time()
            t = time.perf_counter()
            retriever.search_hits(q, k=5, mode="hybrid")
            wall[name].append((time.perf_counter() - t) * 1000)
            cpu[name].append((time.process_time() - c) * 1000)
    return {
        name: {**summary(wall[name]), "cpu_p50_ms": percentile(cpu[name], 50), "cpu_p95_ms": percentile(cpu[name], 95)}
        for name in wall
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "retrieval" / "corpus")
    ap.add_argument("--queries", type=int, default=None, help="use the first N questions (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the queries")
    ap.add_argument("--home", type=Path, help="CARDIO_HOME to build in (default: a temporary folder, removed after)")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")
    ap.add_argument(
        "--compare-session1",
        action="store_true",
        help="also time hybrid queries with the session-1 lexical side (no synonym expansion, dense weight 0.6), "
        "interleaved with the current engine in this process",
    )
    ap.add_argument(
        "--compare-numeric",
        action="store_true",
        help="also time hybrid queries without the numeric-range vote, interleaved with the current engine",
    )
    ap.add_argument(
        "--compare-memory",
        action="store_true",
        help="also time hybrid queries without the question-memory vote (session 3), interleaved with the current engine",
    )
    args = ap.parse_args(argv)

    temp_home = None
    if args.home:
        os.environ["CARDIO_HOME"] = str(args.home)
    else:
        temp_home = tempfile.mkdtemp(prefix="cardio-bench-")
        os.environ["CARDIO_HOME"] = temp_home
    os.environ.pop("CARDIO_CHROMA_URL", None)
    try:
        return _run(args)
    finally:
        if temp_home:
            shutil.rmtree(temp_home, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    import torch

    from retrieval.bm25 import BM25Index
    from retrieval.corpus_loader import load_corpus
    from retrieval.search import Retriever, get_retriever, lexical_text, search_for_findings
    from retrieval.store import GuidelineStore

    out: dict = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    try:
        out["load_avg_1min_before"] = os.getloadavg()[0]
    except OSError:
        pass

    # -- build ----------------------------------------------------------------
    import bm25s  # noqa: F401 - imports are not build work; keep them out of the timings
    import yaml  # noqa: F401

    from retrieval.bm25 import tokenize

    tokenize("warm up the stemmer")
    t = time.perf_counter()
    corpus = load_corpus(args.corpus)
    parse_s = time.perf_counter() - t
    passages = corpus.passages

    t = time.perf_counter()
    BM25Index([p.id for p in passages], [lexical_text(p) for p in passages])
    bm25_build_s = time.perf_counter() - t

    store = GuidelineStore()
    t = time.perf_counter()
    store.embedder.encode(["warm-up"])
    model_load_s = time.perf_counter() - t

    t = time.perf_counter()
    report = store.ensure_guidelines(passages, corpus.corpus_hash, force=True, progress=False)
    dense_build_s = time.perf_counter() - t

    t = time.perf_counter()
    retriever = Retriever(args.corpus, store=store, progress=False)
    reopen_s = time.perf_counter() - t
    assert not retriever.build_report.rebuilt, "index should have been up to date"

    out["build"] = {
        "statements": len(passages),
        "parse_validate_s": parse_s,
        "bm25_build_s": bm25_build_s,
        "model_load_s": model_load_s,
        "dense_build_s": dense_build_s,
        "dense_statements_per_s": report.count / dense_build_s,
        "reopen_up_to_date_s": reopen_s,
        "dense_over_bm25_build": dense_build_s / bm25_build_s,
    }

    # -- queries --------------------------------------------------------------
    queries = load_queries(args.queries)
    modes = ["bm25", "dense", "hybrid"]
    for q in queries[:10]:  # warm-up: first-call allocations, Chroma caches
        for mode in modes:
            retriever.search_hits(q, k=5, mode=mode)
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    for rep in range(args.repeat):
        for i, q in enumerate(queries):
            order = modes[i % 3 :] + modes[: i % 3]
            for mode in order:
                retriever.clear_query_cache()
                c = time.process_time()
                t = time.perf_counter()
                retriever.search_hits(q, k=5, mode=mode)
                times[mode].append((time.perf_counter() - t) * 1000)
                cpu[mode].append((time.process_time() - c) * 1000)
    # CPU time is what a query costs the process; wall time adds waiting for
    # a core, which on a shared machine can dominate.
    out["query"] = {m: {**summary(v), "cpu_p50_ms": percentile(cpu[m], 50), "cpu_p95_ms": percentile(cpu[m], 95)}
                    for m, v in times.items()}
    base = out["query"]["bm25"]
    for m in ("dense", "hybrid"):
        s = out["query"][m]
        s["p50_over_bm25"] = s["p50_ms"] / base["p50_ms"]
        s["p95_over_bm25"] = s["p95_ms"] / base["p95_ms"]

    # query embedding alone, to show where the time goes
    emb = []
    for q in queries:
        retriever.clear_query_cache()
        t = time.perf_counter()
        retriever.embed_query(q)
        emb.append((time.perf_counter() - t) * 1000)
    out["query"]["embed_only"] = summary(emb)

    # -- retrieve node call -----------------------------------------------------
    search_for_findings(CASE_FINDINGS, ["ecg", "echo"], k=3, corpus_dir=args.corpus)  # opens the process retriever
    process_retriever = get_retriever(args.corpus)
    findings_ms = []
    for _ in range(10):
        process_retriever.clear_query_cache()
        t = time.perf_counter()
        outcome = search_for_findings(CASE_FINDINGS, ["ecg", "echo"], k=3, corpus_dir=args.corpus)
        findings_ms.append((time.perf_counter() - t) * 1000)
    out["search_for_findings"] = {**summary(findings_ms), "queries": len(outcome.queries), "passages": len(outcome.passages)}
    if args.compare_session1:
        out["hybrid_vs_session1"] = compare_session1(retriever, queries)
    if args.compare_numeric:
        out["hybrid_vs_no_numeric_vote"] = compare_weight(retriever, queries, "NUMERIC_WEIGHT", ("with vote", "no vote"))
    if args.compare_memory:
        out["hybrid_vs_no_memory"] = compare_weight(retriever, queries, "MEMORY_WEIGHT", ("with memory", "no memory"))
    try:
        out["load_avg_1min_after"] = os.getloadavg()[0]
    except OSError:
        pass

    # -- print ------------------------------------------------------------------
    b = out["build"]
    print(f"corpus: {b['statements']} statements (hash {corpus.corpus_hash[:12]}); torch threads {out['torch_threads']}, "
          f"{out['cpu_count']} CPUs, load avg {out.get('load_avg_1min_before', float('nan')):.1f} → "
          f"{out.get('load_avg_1min_after', float('nan')):.1f}")
    print("build")
    print(f"  parse + validate corpus      {b['parse_validate_s'] * 1000:8.1f} ms")
    print(f"  BM25 index (baseline)        {b['bm25_build_s'] * 1000:8.1f} ms")
    print(f"  embedding model load         {b['model_load_s']:8.2f} s")
    print(f"  dense index (embed + Chroma) {b['dense_build_s']:8.2f} s   "
          f"({b['dense_statements_per_s']:.1f} statements/s; {b['dense_over_bm25_build']:.0f}x BM25)")
    print(f"  reopen up-to-date index      {b['reopen_up_to_date_s'] * 1000:8.1f} ms")
    print(f"query latency, warm, k=5, {len(queries)} queries x {args.repeat}, query-vector cache cleared")
    print(f"  {'mode':8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}  {'p50/bm25':>8} {'p95/bm25':>8}  {'cpu p50':>8} {'cpu p95':>8}")
    for m in modes:
        s = out["query"][m]
        ratios = f"  {s['p50_over_bm25']:8.1f} {s['p95_over_bm25']:8.1f}" if m != "bm25" else f"  {'1.0':>8} {'1.0':>8}"
        print(f"  {m:8} {s['p50_ms']:8.2f} {s['p95_ms']:8.2f} {s['mean_ms']:8.2f}{ratios}  {s['cpu_p50_ms']:8.2f} {s['cpu_p95_ms']:8.2f}")
    e = out["query"]["embed_only"]
    print(f"  {'(embed)':8} {e['p50_ms']:8.2f} {e['p95_ms']:8.2f} {e['mean_ms']:8.2f}")
    f = out["search_for_findings"]
    print(f"search_for_findings ({f['queries']} queries → {f['passages']} passages): p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms")
    if "hybrid_vs_session1" in out:
        print("hybrid, current engine vs session-1 lexical side (interleaved, same process)")
        for name, r in out["hybrid_vs_session1"].items():
            print(f"  {name:9} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  cpu p50 {r['cpu_p50_ms']:6.2f}  "
                  f"cpu p95 {r['cpu_p95_ms']:6.2f}")
    for key, title in (
        ("hybrid_vs_no_numeric_vote", "hybrid with vs without the numeric-range vote (interleaved, same process)"),
        ("hybrid_vs_no_memory", "hybrid with vs without the question memory (interleaved, same process)"),
    ):
        if key not in out:
            continue
        print(title)
        rows = out[key]
        for name, r in rows.items():
            print(f"  {name:11} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  cpu p50 {r['cpu_p50_ms']:6.2f}  "
                  f"cpu p95 {r['cpu_p95_ms']:6.2f}")
        first, second = list(rows.values())
        print(f"  ratio p50 {first['p50_ms'] / second['p50_ms']:.2f}x  p95 {first['p95_ms'] / second['p95_ms']:.2f}x")
    verdict = "meets" if out["query"]["hybrid"]["p95_ms"] <= 50 else "MISSES"
    print(f"hybrid p95 {out['query']['hybrid']['p95_ms']:.1f} ms {verdict} the ≤ 50 ms target")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
