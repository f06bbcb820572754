"""Chroma vector store for guideline statements and user documents.

Where it lives: a `PersistentClient` under `$CARDIO_HOME/chroma` (default
`~/.cardioagent/chroma`), or a Chroma server when `CARDIO_CHROMA_URL` is set
(shared deployments: one index, many workers).

Why a fingerprint: the index is built once (a progress bar shows the
embedding) and reused. The collection's metadata stores a fingerprint of the
corpus bytes, the embedder and the index format; when any of them changes
the collection is dropped and rebuilt, so a corrected threshold in a corpus
file can never be shadowed by a stale vector.

Two collections, never mixed: `cardio_guidelines` (our corpus) and
`cardio_user_documents` (local protocols the user added; data only).

chromadb and the embedder are imported inside functions: importing this
module costs nothing, so the CLI starts fast.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from retrieval.types import GuidelinePassage

GUIDELINES_COLLECTION = "cardio_guidelines"
USER_DOCUMENTS_COLLECTION = "cardio_user_documents"
# Bump when what is embedded or stored per passage changes: forces a rebuild.
INDEX_FORMAT = "2"
_EMBED_BATCH = 32


def cardio_home() -> Path:
    """The app's data folder: $CARDIO_HOME, else ~/.cardioagent."""
    env = os.environ.get("CARDIO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cardioagent"


def chroma_location() -> str:
    """Human-readable location of the store (server URL or folder)."""
    url = os.environ.get("CARDIO_CHROMA_URL")
    return url if url else str(cardio_home() / "chroma")


_CLIENTS: dict[str, Any] = {}


def chroma_client() -> Any:
    """A Chroma client: HttpClient for CARDIO_CHROMA_URL, else a local
    PersistentClient. One per location per process (Chroma requires that)."""
    import chromadb
    from chromadb.config import Settings

    url = os.environ.get("CARDIO_CHROMA_URL")
    key = f"url:{url}" if url else f"path:{cardio_home() / 'chroma'}"
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    settings = Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ValueError(f"CARDIO_CHROMA_URL={url!r} has no host name")
        ssl = parsed.scheme == "https"
        port = parsed.port or (443 if ssl else 8000)
        client = chromadb.HttpClient(host=parsed.hostname, port=port, ssl=ssl, settings=settings)
    else:
        path = cardio_home() / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=settings)
    _CLIENTS[key] = client
    return client


def index_fingerprint(corpus_hash: str) -> str:
    """Corpus bytes + embedder + index format: any change means rebuild."""
    from retrieval.embedder import EMBEDDER_NAME, model_version

    raw = f"{corpus_hash}|{EMBEDDER_NAME}|{model_version()}|format={INDEX_FORMAT}"
    return hashlib.sha256(raw.encode()).hexdigest()


def dense_text(p: GuidelinePassage) -> str:
    """What the embedder sees for a passage: the section title gives context
    ("Long QT syndrome") the statement itself often leaves implicit."""
    return f"{p.section}. {p.text}"


def passage_metadata(p: GuidelinePassage) -> dict[str, Any]:
    """Flat Chroma metadata (scalars only): one boolean per topic so a topic
    filter is a plain equality, and joined strings to rebuild the lists."""
    meta: dict[str, Any] = {
        "guideline": p.guideline,
        "year": int(p.year),
        "section": p.section,
        "topics": "|".join(p.topics),
        "measurements": "|".join(p.measurements),
        "collection": p.collection,
        "flagged_instructions": bool(p.flagged_instructions),
    }
    for key in ("society", "recommendation_class", "evidence_level", "source_file"):
        value = getattr(p, key)
        if value is not None:
            meta[key] = value
    for t in p.topics:
        meta[f"topic_{t}"] = True
    return meta


def passage_from_record(doc_id: str, document: str, meta: dict[str, Any], score: float | None = None) -> GuidelinePassage:
    """Inverse of `passage_metadata` (the stored document is the statement text)."""
    split = lambda s: [x for x in str(s or "").split("|") if x]  # noqa: E731
    collection = str(meta.get("collection", "guidelines"))
    if collection == "user_documents":
        # User text is handed on only inside quotation marks: data, not guidance.
        document = f"“{document}”"
    return GuidelinePassage(
        id=doc_id,
        guideline=str(meta.get("guideline", "")),
        society=meta.get("society"),
        year=int(meta.get("year", 0)),
        section=str(meta.get("section", "")),
        text=document,
        recommendation_class=meta.get("recommendation_class"),
        evidence_level=meta.get("evidence_level"),
        topics=split(meta.get("topics")),
        measurements=split(meta.get("measurements")),
        score=score,
        collection=collection,
        source_file=meta.get("source_file"),
        flagged_instructions=bool(meta.get("flagged_instructions", False)),
    )


@dataclass
class BuildReport:
    """What `ensure_guidelines` did, for the CLI and the benchmark."""

    rebuilt: bool
    count: int
    seconds: float
    fingerprint: str
    reason: str = ""


@dataclass
class IndexStatus:
    exists: bool
    count: int
    fingerprint: str | None
    built_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builds of the local store across processes (two CLI calls
    racing would otherwise both drop and refill the collection)."""
    if os.environ.get("CARDIO_CHROMA_URL"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; builds are rare
        yield
        return
    home = cardio_home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "chroma.build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _progress(total: int, enabled: bool | None, desc: str):
    from tqdm import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="stmt", disable=not enabled, file=sys.stderr)


class GuidelineStore:
    """Both collections behind one object; knows nothing about ranking."""

    def __init__(self, client: Any = None, embedder: Any = None):
        self._client = client
        self._embedder = embedder

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = chroma_client()
        return self._client

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from retrieval.embedder import BundledMiniLMEmbedding

            self._embedder = BundledMiniLMEmbedding()
        return self._embedder

    # -- collections -------------------------------------------------------
    def _get(self, name: str) -> Any | None:
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name, embedding_function=self.embedder)
        except (NotFoundError, ValueError):
            return None

    def _create(self, name: str, metadata: dict[str, Any]) -> Any:
        return self.client.create_collection(
            name,
            embedding_function=self.embedder,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=metadata,
        )

    def guidelines(self) -> Any | None:
        return self._get(GUIDELINES_COLLECTION)

    def user_documents(self, create: bool = False) -> Any | None:
        col = self._get(USER_DOCUMENTS_COLLECTION)
        if col is None and create:
            col = self.client.get_or_create_collection(
                USER_DOCUMENTS_COLLECTION,
                embedding_function=self.embedder,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"kind": "user_documents", "trust": "data-only"},
            )
        return col

    def status(self, name: str = GUIDELINES_COLLECTION) -> IndexStatus:
        col = self._get(name)
        if col is None:
            return IndexStatus(False, 0, None)
        meta = dict(col.metadata or {})
        return IndexStatus(True, col.count(), meta.get("fingerprint"), meta.get("built_at"), meta)

    # -- guidelines build --------------------------------------------------
    def ensure_guidelines(
        self, passages: list[GuidelinePassage], corpus_hash: str, force: bool = False, progress: bool | None = None
    ) -> BuildReport:
        """Build the guideline collection unless it already matches the corpus."""
        fingerprint = index_fingerprint(corpus_hash)
        started = time.perf_counter()
        with _build_lock():
            col = self._get(GUIDELINES_COLLECTION)
            if col is not None and not force:
                meta = col.metadata or {}
                if meta.get("fingerprint") == fingerprint and col.count() == len(passages):
                    return BuildReport(False, len(passages), time.perf_counter() - started, fingerprint, "up to date")
                reason = "corpus or embedder changed" if meta.get("fingerprint") != fingerprint else "incomplete index"
            else:
                reason = "forced rebuild" if col is not None else "no index yet"
            if col is not None:
                self.client.delete_collection(GUIDELINES_COLLECTION)
            # The fingerprint is written only after every vector is in, so an
            # interrupted build is detected and redone next time.
            col = self._create(GUIDELINES_COLLECTION, {"fingerprint": "building", "corpus_hash": corpus_hash})
            bar = _progress(len(passages), progress, "Embedding guideline statements")
            try:
                for start in range(0, len(passages), _EMBED_BATCH):
                    batch = passages[start : start + _EMBED_BATCH]
                    vectors = self.embedder.encode([dense_text(p) for p in batch])
                    col.add(
                        ids=[p.id for p in batch],
                        documents=[p.text for p in batch],
                        metadatas=[passage_metadata(p) for p in batch],
                        embeddings=vectors,
                    )
                    bar.update(len(batch))
            finally:
                bar.close()
            col.modify(
                metadata={
                    "fingerprint": fingerprint,
                    "corpus_hash": corpus_hash,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "index_format": INDEX_FORMAT,
                }
            )
        return BuildReport(True, len(passages), time.perf_counter() - started, fingerprint, reason)

    # -- queries -----------------------------------------------------------
    @staticmethod
    def query(col: Any, embedding: Any, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float, str, dict]]:
        """Nearest neighbours as (id, cosine similarity, document, metadata)."""
        count = col.count()
        if count == 0 or n <= 0:
            return []
        res = col.query(
            query_embeddings=[embedding],
            n_results=min(n, count),
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for doc_id, dist, doc, meta in zip(
            res["ids"][0], res["distances"][0], res["documents"][0], res["metadatas"][0], strict=True
        ):
            out.append((doc_id, 1.0 - float(dist), doc or "", dict(meta or {})))
        return out
