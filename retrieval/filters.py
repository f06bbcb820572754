"""Metadata filters (topic, guideline, year) shared by dense and BM25 search.

Why one object with two renderings: the dense side filters inside Chroma
(a `where` clause), the lexical side filters in Python; both must agree or
hybrid fusion would mix filtered and unfiltered lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from retrieval.types import GuidelinePassage


@dataclass(frozen=True)
class SearchFilter:
    """All given conditions must hold; `topics` matches any of them.

    `guideline` is a case-insensitive substring of the guideline title, the
    society or the corpus file name ("ESC", "heart failure", "esc-af-2024").
    """

    topics: tuple[str, ...] = ()
    guideline: str | None = None
    year: int | None = None
    year_min: int | None = None
    year_max: int | None = None

    def is_empty(self) -> bool:
        return not (self.topics or self.guideline or self.year or self.year_min or self.year_max)

    def _guideline_matches(self, p: GuidelinePassage) -> bool:
        needle = (self.guideline or "").strip().lower()
        hay = [p.guideline, p.society or "", p.source_file or ""]
        return any(needle in h.lower() for h in hay)

    def matches(self, p: GuidelinePassage) -> bool:
        if self.topics and not set(t.lower() for t in self.topics) & set(p.topics):
            return False
        if self.guideline and not self._guideline_matches(p):
            return False
        if self.year is not None and p.year != self.year:
            return False
        if self.year_min is not None and p.year < self.year_min:
            return False
        if self.year_max is not None and p.year > self.year_max:
            return False
        return True

    def chroma_where(self, passages: Iterable[GuidelinePassage]) -> dict[str, Any] | None:
        """The same conditions as a Chroma `where` clause.

        Substring matching has no Chroma operator, so the guideline needle is
        resolved against the corpus into the exact titles it matches.
        Returns {"guideline": {"$in": []}}-style impossible clause when the
        needle matches nothing, so the dense side returns nothing too.
        """
        clauses: list[dict[str, Any]] = []
        if self.topics:
            topic_clauses = [{f"topic_{t.lower()}": True} for t in self.topics]
            clauses.append(topic_clauses[0] if len(topic_clauses) == 1 else {"$or": topic_clauses})
        if self.guideline:
            titles = sorted({p.guideline for p in passages if self._guideline_matches(p)})
            clauses.append({"guideline": {"$in": titles or ["\0no-such-guideline"]}})
        if self.year is not None:
            clauses.append({"year": self.year})
        if self.year_min is not None:
            clauses.append({"year": {"$gte": self.year_min}})
        if self.year_max is not None:
            clauses.append({"year": {"$lte": self.year_max}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}
