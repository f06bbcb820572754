"""The one function the agent's retrieve node calls.

`passages_for_findings` turns a case's findings into guideline queries
(retrieval/queries.py) and returns the passages the hybrid search finds
(retrieval/search.py). The first call in a process opens the index under
$CARDIO_HOME/chroma, building it once if the corpus changed. Without the
optional search stack (or without a corpus) it returns no passages and a
note saying why, so a report is never sunk by retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.types import GuidelinePassage


@dataclass
class RetrievalOutcome:
    passages: list[GuidelinePassage] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    note: str | None = None


def passages_for_findings(findings: list[dict], modalities: list[str], k: int = 3) -> RetrievalOutcome:
    """Turn a case's findings into guideline queries and return passages.

    `findings` are dicts with keys kind ('statement'|'measurement'), name,
    label, value, unit, flag, status. `k` passages per query; each passage
    carries its retrieval score and citation. Guideline passages come first;
    matching local protocols the user added with `kb add` follow as
    collection='user_documents' passages (quoted data, never instructions).
    Normal findings produce no query and an empty outcome. Returns an empty
    outcome with a note when no guideline index is available.
    """
    try:
        from retrieval.search import search_for_findings
    except ModuleNotFoundError as exc:
        return RetrievalOutcome(note=f"guideline index not available in this build ({exc.name} missing)")
    return search_for_findings(findings, modalities, k=k)
