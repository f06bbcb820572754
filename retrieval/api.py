"""The one function the agent's retrieve node calls.

The slot is designed now so the graph, report and verifier already handle
guideline passages; the retrieval issue fills in the corpus and index.
Until an index exists this returns no passages and says why.
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
    label, value, unit, flag, status. Returns an empty outcome with a note
    when no guideline index is available.
    """
    try:
        from retrieval.search import search_for_findings
    except ModuleNotFoundError:
        return RetrievalOutcome(note="guideline index not available in this build")
    return search_for_findings(findings, modalities, k=k)
