"""Hybrid guideline search: dense (Chroma) + BM25, fused by reciprocal rank.

Why reciprocal-rank fusion (RRF): dense cosine and BM25 scores live on
different scales that shift with every query; ranks do not. RRF adds
w/(K + rank) from each list, so a statement ranked well by both wins and a
statement only one method finds still surfaces (K and w: see RRF_K).

`Retriever` holds the loaded corpus, the BM25 index and the Chroma store for
one process; `get_retriever()` caches it and notices when corpus files
change. `search_for_findings` is what the agent's retrieve node calls.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from retrieval.bm25 import BM25Index
from retrieval.corpus_loader import CORPUS_DIR, Corpus, corpus_files, load_corpus
from retrieval.filters import SearchFilter
from retrieval.numeric import NumericIndex, Quantity, query_quantities
from retrieval.question_memory import QuestionMemory, load_memory_questions
from retrieval.synonyms import expand
from retrieval.types import GuidelinePassage

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")
# Fusion constants. History: session 1 chose K=10 / dense weight 0.6 with
# unexpanded BM25 on the tune split; session 2 added synonym expansion and
# chose K=10 / dense 0.8 (repeated 5-fold CV on tune: a plateau, K 10-20 with
# weight 0.3-0.8 all 0.95-0.96) and a numeric-range vote of 0.25. Session 3
# added the question memory and re-chose all four by leave-one-set-out
# cross-validation over the three seen question sets (each set answered by a
# memory built from the other two; grid dense 0.6-1.0 x memory 0.4-0.8 x
# numeric 0-0.75 x K 3-20; retrieval/questions/tune_memory.py):
# K=5 / dense 0.8 / memory 0.5 / numeric 0.5 sits in the middle of a plateau
# (K=5 with memory 0.4-0.5 and numeric 0.4-0.75 all give mean recall@5
# 0.928-0.932, MRR 0.886-0.895); the session-2 constants with the memory give
# 0.927 / 0.858. The small MiniLM is still the weaker ranker on clinical
# shorthand, so its vote stays below BM25's.
RRF_K = 5
DENSE_WEIGHT = 0.8
# Weight of the numeric-range vote (retrieval/numeric.py): statements whose
# stated range holds the query's value for the same measurement ("QRS 138 ms"
# -> "QRS of 130-149 ms"), in their fused order, as an extra RRF list. It
# reorders candidates only. Without the memory, 0.25 was best on tune (0.5
# lost recall: "LVEF 30%" sits inside many thresholds); with the memory
# voting for the treatment statements, 0.5 is the plateau's centre.
NUMERIC_WEIGHT = 0.5
# Weight of the question-memory vote (retrieval/question_memory.py):
# statements that answered the nearest already-labelled questions. Larger
# weights (0.6-0.8) let a near-miss neighbour's statements crowd out the text
# matches (MRR falls to 0.86-0.87).
MEMORY_WEIGHT = 0.5
# The report's own queries (search_for_findings) are a different population:
# templates written in the corpus's wording (retrieval/queries.py), judged by
# the multimodal suite's citation checks (a finding gets only k=2 places).
# They keep the session-2 fusion (K 10, numeric 0.25) and no memory: with
# the free-text settings the memory matched "LBBB, QRS >= 150 ms, CRT" to past
# RBBB and 130-149 ms questions and pushed the LBBB >= 150 ms statements out
# (multimodal guideline recall 1.00 -> 0.50), and K 5 / numeric 0.5 alone
# added two wrong citations (precision 0.97 -> 0.93). Chat and `kb search`
# (people's free text) use the free-text settings above.
FINDINGS_RRF_K = 10
FINDINGS_NUMERIC_WEIGHT = 0.25
Profile = Literal["free_text", "findings"]
CANDIDATES = 50
# A user-document chunk joins a case's passages only when it is this close
# to the query (cosine) or shares query terms (BM25 > 0).
USER_DOC_MIN_SIMILARITY = 0.35
DENSE_RETRY_S = 60.0


def lexical_text(p: GuidelinePassage) -> str:
    """What BM25 indexes: the section title, measurement names and topic tags
    add the exact words a clinician types ("long QT", "qtc", "AF", "HF") to
    the statement, and `expand` adds the abbreviation or long form of every
    clinical term it names ("left bundle-branch block" gains "LBBB").
    (Tune split: topic tags moved hybrid recall@5 0.922 -> 0.931 in session 1;
    the guideline title, tried twice, did not help; the synonym expansion
    moved BM25 recall@5 0.911 -> 0.930 and hybrid MRR 0.857 -> 0.879.)"""
    return expand(
        " ".join([p.section, p.text, " ".join(m.replace("_", " ") for m in p.measurements), " ".join(p.topics)])
    )


def lexical_query(query: str) -> str:
    """The query as BM25 sees it: with the same synonym expansion as the
    statements, so "HFrEF" meets "reduced ejection fraction" both ways."""
    return expand(query)


def rrf_fuse(
    rankings: Iterable[list[str]], k: int | None = None, weights: Iterable[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of ranked id lists (best first). `k` defaults
    to the module's RRF_K at call time (the evaluation's ablations switch it)."""
    k = RRF_K if k is None else k
    rankings = list(rankings)
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse_with_numeric(
    rankings: list[list[str]],
    weights: list[float],
    quantities: list[Quantity],
    numeric: NumericIndex,
    numeric_weight: float | None = None,
    k: int | None = None,
) -> list[tuple[str, float]]:
    """RRF of `rankings`, plus a vote for the candidates whose range contains
    a value the query states. Only candidates already found by dense or BM25
    are voted for, so the vote reorders, it never drags in a statement about
    the same measurement but another question."""
    numeric_weight = NUMERIC_WEIGHT if numeric_weight is None else numeric_weight
    fused = rrf_fuse(rankings, k=k, weights=weights)
    if not quantities or numeric_weight <= 0:
        return fused
    vote = [doc_id for doc_id, _ in fused if numeric.matches(doc_id, quantities)]
    if not vote:
        return fused
    return rrf_fuse([*rankings, vote], k=k, weights=[*weights, numeric_weight])


def remembered_statements(
    memory: QuestionMemory, query: str, quantities: list[Quantity], numeric: NumericIndex
) -> list[str]:
    """The question memory's vote, minus statements whose stated range
    contradicts a value the query gives. Why: the memory matches questions by
    words, and "QRS 150 ms or more" reads like the past "QRS 140 ms" question
    whose answer is the 130-149 ms statement; the numeric index knows better."""
    votes = memory.vote(query)
    if not quantities:
        return votes
    return [sid for sid in votes if not numeric.conflicts(sid, quantities)]


@dataclass
class Hit:
    id: str
    score: float


class Retriever:
    """Search over the guideline corpus (and, on request, user documents)."""

    def __init__(
        self,
        corpus_dir: Path | str = CORPUS_DIR,
        store: Any = None,
        progress: bool | None = None,
        force_rebuild: bool = False,
        dense: bool = True,
    ):
        self.created_at = time.monotonic()
        self.corpus_dir = Path(corpus_dir)
        self.corpus: Corpus = load_corpus(self.corpus_dir)
        self.passages = self.corpus.by_id()
        self.bm25 = BM25Index(list(self.passages), [lexical_text(p) for p in self.passages.values()])
        self.numeric = NumericIndex({pid: p.text for pid, p in self.passages.items()})
        self._memory: QuestionMemory | None = None
        self.dense_error: str | None = None
        self.build_report = None
        self._store = None
        self._collection = None
        self._query_cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._user_index: tuple[int, BM25Index, dict[str, GuidelinePassage]] | None = None
        if dense:
            try:
                from retrieval.store import GuidelineStore

                self._store = store or GuidelineStore()
                self.build_report = self._store.ensure_guidelines(
                    list(self.passages.values()), self.corpus.corpus_hash, force=force_rebuild, progress=progress
                )
                self._collection = self._store.guidelines()
            except Exception as exc:  # noqa: BLE001 - degrade to lexical search, say why
                self.dense_error = f"{type(exc).__name__}: {exc}"
                self._collection = None
        else:
            self.dense_error = "dense search disabled"

    @property
    def store(self) -> Any:
        return self._store

    @property
    def memory(self) -> QuestionMemory:
        """Labelled questions already evaluated (never a blind test set),
        built on first use: only free-text search votes with it, so a report
        process (findings profile) never pays the ~0.1 s to index 900
        questions. The evaluation swaps in a memory without the set it scores."""
        if self._memory is None:
            self._memory = QuestionMemory(load_memory_questions(), self.passages)
        return self._memory

    @memory.setter
    def memory(self, value: QuestionMemory) -> None:
        self._memory = value

    @property
    def dense_available(self) -> bool:
        return self._collection is not None

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (the latency benchmark times cold queries)."""
        with self._lock:
            self._query_cache.clear()

    # -- single retrievers ---------------------------------------------------
    def embed_query(self, query: str) -> Any:
        """Query vector, cached (the retrieve node repeats queries across cases)."""
        with self._lock:
            vec = self._query_cache.get(query)
            if vec is not None:
                self._query_cache.move_to_end(query)
                return vec
        vec = self._store.embedder.encode([query])[0]
        with self._lock:
            self._query_cache[query] = vec
            if len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        return vec

    def dense_search(self, query: str, n: int, filters: SearchFilter | None = None) -> list[Hit]:
        if self._collection is None:
            return []
        where = filters.chroma_where(self.passages.values()) if filters and not filters.is_empty() else None
        rows = self._store.query(self._collection, self.embed_query(query), n, where)
        return [Hit(doc_id, sim) for doc_id, sim, _, _ in rows if doc_id in self.passages]

    def bm25_search(self, query: str, n: int, filters: SearchFilter | None = None) -> list[Hit]:
        allowed = None
        if filters and not filters.is_empty():
            allowed = [pid for pid, p in self.passages.items() if filters.matches(p)]
        return [Hit(doc_id, score) for doc_id, score in self.bm25.search(lexical_query(query), n, allowed)]

    def hybrid_search(
        self,
        query: str,
        n: int,
        filters: SearchFilter | None = None,
        measurement_names: Iterable[str] = (),
        profile: Profile = "free_text",
    ) -> list[Hit]:
        free_text = profile == "free_text"
        rrf_k = RRF_K if free_text else FINDINGS_RRF_K
        depth = max(CANDIDATES, n)
        try:
            dense = self.dense_search(query, depth, filters)
        except Exception as exc:  # noqa: BLE001 - e.g. the Chroma server went away
            self.dense_error = f"{type(exc).__name__}: {exc}"
            self._collection = None  # get_retriever() opens a fresh one after DENSE_RETRY_S
            dense = []
        lexical = self.bm25_search(query, depth, filters)
        rankings = [[h.id for h in dense], [h.id for h in lexical]]
        weights = [DENSE_WEIGHT, 1.0]
        quantities = query_quantities(query)
        if free_text and MEMORY_WEIGHT > 0 and len(self.memory):
            remembered = remembered_statements(self.memory, query, quantities, self.numeric)
            if filters and not filters.is_empty():
                remembered = [pid for pid in remembered if filters.matches(self.passages[pid])]
            rankings.append(remembered)
            weights.append(MEMORY_WEIGHT)
        names = {m.lower() for m in measurement_names}
        if names:
            # Statements that declare they concern the finding's measurement,
            # in their fused order: a third vote for the candidates only.
            fused = rrf_fuse(rankings, k=rrf_k, weights=weights)
            rankings.append(
                [doc_id for doc_id, _ in fused if names & {m.lower() for m in self.passages[doc_id].measurements}]
            )
            weights.append(1.0)
        numeric_weight = NUMERIC_WEIGHT if free_text else FINDINGS_NUMERIC_WEIGHT
        fused = fuse_with_numeric(rankings, weights, quantities, self.numeric, numeric_weight, rrf_k)
        return [Hit(doc_id, score) for doc_id, score in fused[:n]]

    # -- public API ----------------------------------------------------------
    def search_hits(
        self,
        query: str,
        k: int = 5,
        mode: Mode = "hybrid",
        filters: SearchFilter | None = None,
        measurement_names: Iterable[str] = (),
        profile: Profile = "free_text",
    ) -> list[Hit]:
        """`profile` picks the hybrid fusion: "free_text" (people's questions:
        chat, `kb search`, the question sets) or "findings" (the report's
        template queries, no question memory; see FINDINGS_RRF_K)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not query.strip() or k <= 0:
            return []
        if mode == "dense":
            if not self.dense_available:
                raise RuntimeError(f"dense index unavailable ({self.dense_error})")
            return self.dense_search(query, k, filters)
        # Hybrid without a dense index (e.g. Chroma server down) degrades to
        # BM25; `dense_error` says why and search_for_findings reports it.
        if mode == "bm25" or not self.dense_available:
            return self.bm25_search(query, k, filters)
        return self.hybrid_search(query, k, filters, measurement_names, profile)

    def search(
        self,
        query: str,
        k: int = 5,
        mode: Mode = "hybrid",
        filters: SearchFilter | None = None,
        measurement_names: Iterable[str] = (),
        profile: Profile = "free_text",
    ) -> list[GuidelinePassage]:
        """Top-k guideline passages for a query, best first, scored."""
        hits = self.search_hits(query, k, mode, filters, measurement_names, profile)
        return [self.passages[h.id].model_copy(update={"score": round(h.score, 6)}) for h in hits]

    # -- user documents -------------------------------------------------------
    def _user_documents(self) -> tuple[Any, BM25Index, dict[str, GuidelinePassage]] | None:
        """The user-document collection and a BM25 index over it (rebuilt when
        its size changes, i.e. after `kb add`)."""
        if self._store is None:
            return None
        col = self._store.user_documents()
        if col is None:
            return None
        count = col.count()
        if count == 0:
            return None
        if self._user_index is None or self._user_index[0] != count:
            from retrieval.store import passage_from_record

            got = col.get(include=["documents", "metadatas"])
            passages = {
                doc_id: passage_from_record(doc_id, doc or "", dict(meta or {}))
                for doc_id, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            }
            self._user_index = (
                count, BM25Index(list(passages), [expand(p.text) for p in passages.values()]), passages
            )
        return col, self._user_index[1], self._user_index[2]

    def search_user_documents(
        self, query: str, k: int = 3, min_similarity: float | None = None, include_flagged: bool = True
    ) -> list[GuidelinePassage]:
        """User-document chunks for a query, hybrid-ranked. They come back as
        passages with collection='user_documents': quoted data, never guidance.
        `include_flagged=False` leaves out the lines set apart as instruction-
        like (documents.separate_instructions): a report has no use for them."""
        found = self._user_documents()
        if found is None or not query.strip() or k <= 0:
            return []
        col, bm25, passages = found
        dense_rows = self._store.query(col, self.embed_query(query), CANDIDATES)
        similarity = {doc_id: sim for doc_id, sim, _, _ in dense_rows}
        lexical = bm25.search(lexical_query(query), CANDIDATES)
        lexical_ids = {doc_id for doc_id, _ in lexical}
        fused = rrf_fuse([[r[0] for r in dense_rows], [doc_id for doc_id, _ in lexical]], weights=[DENSE_WEIGHT, 1.0])
        out = []
        for doc_id, score in fused:
            if doc_id not in passages or (not include_flagged and passages[doc_id].flagged_instructions):
                continue
            if min_similarity is not None and similarity.get(doc_id, 0.0) < min_similarity and doc_id not in lexical_ids:
                continue
            out.append(passages[doc_id].model_copy(update={"score": round(score, 6)}))
            if len(out) >= k:
                break
        return out


# -- process-wide retriever -------------------------------------------------
_RETRIEVERS: dict[tuple, tuple[tuple, Retriever]] = {}
_RETRIEVER_LOCK = threading.Lock()


def _files_signature(corpus_dir: Path) -> tuple:
    """Cheap change detector (names, sizes, mtimes); the hash decides rebuilds."""
    out = []
    for f in corpus_files(corpus_dir):
        st = f.stat()
        out.append((f.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def get_retriever(corpus_dir: Path | str = CORPUS_DIR, progress: bool | None = None) -> Retriever:
    """The process's retriever for this corpus and store location; rebuilt
    when a corpus file changes (a long-running UI picks up corrections)."""
    from retrieval.store import chroma_location

    d = Path(corpus_dir).resolve()
    key = (str(d), chroma_location())
    signature = _files_signature(d)
    with _RETRIEVER_LOCK:
        cached = _RETRIEVERS.get(key)
        if cached is not None and cached[0] == signature:
            retriever = cached[1]
            # A retriever that lost its dense index (server down) retries
            # after a minute instead of staying lexical-only for ever.
            if retriever.dense_available or time.monotonic() - retriever.created_at < DENSE_RETRY_S:
                return retriever
        retriever = Retriever(d, progress=progress)
        _RETRIEVERS[key] = (signature, retriever)
        return retriever


def clear_retrievers() -> None:
    """Forget cached retrievers (tests switch CARDIO_HOME between cases)."""
    with _RETRIEVER_LOCK:
        _RETRIEVERS.clear()


def search_for_findings(
    findings: list[dict],
    modalities: list[str],
    k: int = 3,
    corpus_dir: Path | str | None = None,
    include_user_documents: bool = True,
):
    """Queries from a case's findings → guideline passages with scores.

    `k` passages per query; a passage found by several queries is listed once
    with its best score. Local protocols the user added come back as separate
    passages with collection='user_documents' (at most one per query, only
    when relevant), never in place of a guideline passage.
    `modalities` is recorded in the note; the queries come from the findings.
    """
    from retrieval.api import RetrievalOutcome
    from retrieval.corpus_loader import CorpusError
    from retrieval.queries import queries_from_findings

    queries = queries_from_findings(findings, modalities)
    if not queries:
        # Normal findings (sinus rhythm, an unflagged value) need no guideline:
        # an empty outcome, and no note, since nothing went wrong.
        return RetrievalOutcome()
    d = Path(corpus_dir) if corpus_dir is not None else Path(os.environ.get("CARDIO_CORPUS_DIR", CORPUS_DIR))
    if not corpus_files(d):
        return RetrievalOutcome(queries=[q.text for q in queries], note=f"guideline corpus not found at {d}")
    try:
        retriever = get_retriever(d)
    except CorpusError as exc:
        return RetrievalOutcome(queries=[q.text for q in queries], note=f"guideline corpus invalid: {exc.problems[0]}")

    best: dict[str, GuidelinePassage] = {}
    order: list[str] = []
    for q in queries:
        # template queries in the corpus's wording: the "findings" fusion (see FINDINGS_RRF_K)
        found = retriever.search(
            q.text, k=k, mode="hybrid", measurement_names=q.measurement_names, profile="findings"
        )
        if include_user_documents:
            found += retriever.search_user_documents(
                q.text, k=1, min_similarity=USER_DOC_MIN_SIMILARITY, include_flagged=False
            )
        for p in found:
            current = best.get(p.id)
            if current is None:
                order.append(p.id)
                best[p.id] = p
            elif (p.score or 0) > (current.score or 0):
                best[p.id] = p
    passages = [best[i] for i in order]
    passages.sort(key=lambda p: p.collection != "guidelines")  # guidelines first, stable within
    note = None
    if retriever.dense_error:
        note = f"lexical search only: {retriever.dense_error}"
    return RetrievalOutcome(passages=passages, queries=[q.text for q in queries], note=note)
