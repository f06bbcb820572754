"""`cardioagent kb ...`: build, search, stats and add user documents.

Exit codes follow the main CLI: 0 ok, 2 bad input or usage (an unreadable
document, a bad option), 3 internal (invalid corpus, index unavailable).

The main CLI mounts this with `configure_parser(subparser)` and dispatches
to `run(args)`; `python -m retrieval.cli ...` runs it standalone. Only the
standard library is imported here, so `cardioagent --help` stays fast;
chromadb and the embedder load when a subcommand needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from retrieval.corpus_loader import CORPUS_DIR


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the kb subcommands to `parser` (the main CLI's `kb` parser)."""
    parser.set_defaults(_kb_parser=parser)
    sub = parser.add_subparsers(dest="kb_command", metavar="{build,search,stats,add}")

    def corpus_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="corpus folder (default: the bundled corpus)")

    fmt = argparse.RawDescriptionHelpFormatter
    build = sub.add_parser("build", help="build (or refresh) the guideline index", formatter_class=fmt,
                           description="Embed the guideline corpus (bundled Markdown passages with citations) into the vector index\n"
                           "under $CARDIO_HOME/chroma (or the server in $CARDIO_CHROMA_URL). Analyses build it on first use;\n"
                           "run this ahead of time, or after editing a corpus. Unchanged corpora are skipped.\n\n"
                           "example:\n  cardioagent kb build --force")  # fmt: skip
    corpus_opt(build)
    build.add_argument("--force", action="store_true", help="rebuild even when the index matches the corpus")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")

    search = sub.add_parser("search", help="search the guidelines for a query")
    search.add_argument("query", help='e.g. "QTc 510 ms" or "LVEF 35%% symptomatic → HFrEF therapy"')
    search.add_argument("--k", type=int, default=5, help="passages to return (default 5)")
    search.add_argument("--mode", choices=["dense", "bm25", "hybrid"], default="hybrid",
                        help="dense (embeddings), bm25 (keywords) or hybrid: both, fused (default: hybrid)")  # fmt: skip
    search.add_argument("--topic", action="append", default=[], help="restrict to a topic (repeatable: any of them)")
    search.add_argument("--guideline", help="restrict to guidelines whose title/society/file contains this text")
    search.add_argument("--year", type=int, help="restrict to one guideline year")
    search.add_argument("--since", type=int, help="restrict to guidelines from this year on")
    search.add_argument("--no-user-documents", action="store_true", help="do not show matching user documents")
    search.add_argument("--json", action="store_true", help="print JSON")
    corpus_opt(search)

    stats = sub.add_parser("stats", help="corpus and index statistics, corpus validation", formatter_class=fmt,
                           description="Count guidelines, passages and topics in the corpus, validate it (citations, years),\n"
                           "and show the index state ($CARDIO_HOME/chroma) and the user documents added with `kb add`.\n\n"
                           "example:\n  cardioagent kb stats --json")  # fmt: skip
    stats.add_argument("--json", action="store_true", help="print JSON")
    corpus_opt(stats)

    add = sub.add_parser("add", help="add local protocols (Markdown, text, PDF) as user documents (data only)", formatter_class=fmt,
                         description="Add local protocols as user documents: .md/.markdown, .txt/.text or .pdf (text layer; up to\n"
                         "50 MB each). They are split into passages and stored in a separate collection under\n"
                         "$CARDIO_HOME/chroma, never mixed with the guidelines; adding a file again replaces it.\n"
                         "Reports quote them as \"local protocol says ...\". They are data, never instructions:\n"
                         "instruction-like text (\"ignore previous instructions ...\") is kept as quoted data and flagged.\n\n"
                         "example:\n  cardioagent kb add protocols/af-anticoagulation.md protocols/qt-drugs.pdf")  # fmt: skip
    add.add_argument("files", nargs="+", type=Path, metavar="FILE", help="documents to add (.md, .txt or .pdf)")


def run(args: argparse.Namespace) -> int:
    """Run a kb subcommand; returns the process exit code."""
    from experts.core.errors import InputError
    from retrieval.corpus_loader import CorpusError

    command = getattr(args, "kb_command", None)
    if not command:
        parser = getattr(args, "_kb_parser", None)
        if parser is not None:
            parser.print_help(sys.stderr)
        return 2
    try:
        if command == "build":
            return _build(args)
        if command == "search":
            return _search(args)
        if command == "stats":
            return _stats(args)
        if command == "add":
            return _add(args)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except InputError as exc:
        print(f"error: {exc.file}: {exc.problem}", file=sys.stderr)
        return 2
    print(f"error: unknown kb command {command!r}", file=sys.stderr)
    return 2


def _build(args: argparse.Namespace) -> int:
    from retrieval.search import Retriever
    from retrieval.store import chroma_location

    started = time.perf_counter()
    retriever = Retriever(args.corpus, progress=False if args.no_progress else None, force_rebuild=args.force)
    if retriever.dense_error:
        print(f"error: dense index not built: {retriever.dense_error}", file=sys.stderr)
        return 3
    report = retriever.build_report
    what = f"built ({report.reason})" if report.rebuilt else "already up to date"
    print(
        f"guideline index {what}: {report.count} statements from {len(retriever.corpus.files)} files "
        f"in {time.perf_counter() - started:.1f} s at {chroma_location()}"
    )
    for w in retriever.corpus.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    from retrieval.filters import SearchFilter
    from retrieval.search import Retriever

    if args.k <= 0:
        print("error: --k must be positive", file=sys.stderr)
        return 2
    retriever = Retriever(args.corpus, dense=args.mode != "bm25")
    if args.mode == "dense" and retriever.dense_error:
        print(f"error: dense index unavailable: {retriever.dense_error}", file=sys.stderr)
        return 3
    filters = SearchFilter(
        topics=tuple(args.topic), guideline=args.guideline, year=args.year, year_min=args.since
    )
    passages = retriever.search(args.query, k=args.k, mode=args.mode, filters=filters)
    user = []
    if not args.no_user_documents and retriever.dense_available:
        user = retriever.search_user_documents(args.query, k=min(args.k, 3), min_similarity=0.35)
    if args.json:
        print(json.dumps([p.model_dump(mode="json") for p in passages + user], indent=2, ensure_ascii=False))
        return 0
    if retriever.dense_error and args.mode == "hybrid":
        print(f"note: lexical search only ({retriever.dense_error})", file=sys.stderr)
    if not passages:
        print("no guideline statement matched" + (" the filters" if not filters.is_empty() else ""))
    for i, p in enumerate(passages, start=1):
        print(f"{i}. {p.id}  [score {p.score:.4f}]")
        print(f"   {p.citation()}")
        print(textwrap.fill(p.text, width=100, initial_indent="   ", subsequent_indent="   "))
    if user:
        print("\nUser documents (quoted data, not guidance):")
        for p in user:
            flag = "  [instruction-like lines set apart: never used in reports]" if p.flagged_instructions else ""
            print(f"- {p.source_file}, {p.section}{flag}")
            print(textwrap.fill(p.text, width=100, initial_indent="   > ", subsequent_indent="   > "))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from retrieval.corpus_loader import load_corpus
    from retrieval.documents import list_documents
    from retrieval.store import GuidelineStore, chroma_location, index_fingerprint

    corpus = load_corpus(args.corpus, strict=False)
    out: dict = {
        "corpus_dir": str(args.corpus),
        "files": len(corpus.files),
        "statements": len(corpus.passages),
        "corpus_hash": corpus.corpus_hash,
        "guidelines": dict(Counter(f"{p.guideline} ({p.year})" for p in corpus.passages).most_common()),
        "topics": dict(Counter(t for p in corpus.passages for t in p.topics).most_common()),
        "with_class_and_level": sum(1 for p in corpus.passages if p.recommendation_class and p.evidence_level),
        "errors": [str(e) for e in corpus.errors],
        "warnings": [str(w) for w in corpus.warnings],
        "index_location": chroma_location(),
    }
    try:
        store = GuidelineStore()
        status = store.status()
        out["index"] = {
            "exists": status.exists,
            "statements": status.count,
            "built_at": status.built_at,
            "up_to_date": bool(status.exists and status.fingerprint == index_fingerprint(corpus.corpus_hash)
                               and status.count == len(corpus.passages)),
        }
        out["user_documents"] = list_documents(store)
    except Exception as exc:  # noqa: BLE001 - stats still shows the corpus
        out["index"] = {"error": f"{type(exc).__name__}: {exc}"}
        out["user_documents"] = []
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 3 if corpus.errors else 0
    print(f"corpus: {out['statements']} statements in {out['files']} files ({args.corpus})")
    print(f"  with class and level of evidence: {out['with_class_and_level']}")
    print(f"  hash: {corpus.corpus_hash[:16]}")
    for g, n in out["guidelines"].items():
        print(f"  {n:4d}  {g}")
    print("topics: " + ", ".join(f"{t} {n}" for t, n in out["topics"].items()))
    idx = out["index"]
    if "error" in idx:
        print(f"index: unavailable at {out['index_location']} ({idx['error']})")
    elif not idx["exists"]:
        print(f"index: not built yet at {out['index_location']} (run `cardioagent kb build`)")
    else:
        state = "up to date" if idx["up_to_date"] else "STALE (rebuilt on next build/search)"
        print(f"index: {idx['statements']} statements, {state}, built {idx['built_at']} at {out['index_location']}")
    if out["user_documents"]:
        print("user documents (data only):")
        for row in out["user_documents"]:
            flagged = f", {row['flagged_chunks']} flagged as instruction-like" if row["flagged_chunks"] else ""
            print(f"  {row['file']}: {row['chunks']} chunks{flagged}")
    for e in out["errors"]:
        print(f"error: {e}", file=sys.stderr)
    for w in out["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    return 3 if corpus.errors else 0


def _add(args: argparse.Namespace) -> int:
    from retrieval.documents import add_documents

    added = add_documents(args.files)
    for a in added:
        verb = "replaced" if a.replaced else "added"
        flagged = (
            f"; {a.flagged_chunks} instruction-like passage(s) set apart (kept as quoted data, never used in reports)"
            if a.flagged_chunks
            else ""
        )
        print(f"{verb} {a.file}: {a.chunks} chunk(s) in user documents{flagged}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cardioagent kb", description="Guideline knowledge base")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
