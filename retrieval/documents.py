"""User documents (local protocols) as a separate, data-only collection.

`cardioagent kb add FILE...` reads Markdown, plain text or PDF (via pypdf),
splits it into paragraphs-sized chunks and stores them in the
`cardio_user_documents` Chroma collection, never in the guideline one.

Why "strictly data": a document is something the user gave us to *quote*,
not something that may steer the system. Its chunks are flagged
`trust=data-only`; when retrieved they come back as GuidelinePassage with
collection='user_documents' and the text inside quotation marks, so the
composer can cite them as "local protocol says ..." but the guideline
collection, the findings and the report's numbers are untouched by whatever
they contain. Chunks that read like instructions to a machine ("ignore
previous instructions", "you are now ...") are additionally flagged so the
UI can show them as suspicious; they are still only data.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experts.core.errors import InputError
from retrieval.types import GuidelinePassage

SUPPORTED_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".pdf": "pdf"}
MAX_BYTES = 50 * 1024 * 1024
MAX_CHUNK_CHARS = 900
MIN_CHUNK_CHARS = 200

_INSTRUCTION_PATTERNS = [
    re.compile(p, re.I)
    for p in (
        r"\bignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|preceding)\s+(instructions|prompts?|rules|messages)",
        r"\bdisregard\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|system)\b",
        r"\bforget\s+(all\s+|everything\s+)?(you|your|the)\s+(instructions|rules|were told)",
        r"\byou\s+are\s+now\b",
        r"\b(system|developer)\s+prompt\b",
        r"\bact\s+as\s+(an?\s+)?(ai|assistant|system|model)\b",
        r"\b(report|say|state|output|write)\s+(that\s+)?(the\s+)?(lv)?ef\s+(is\s+)?\d",
        r"\bnew\s+instructions?\s*:",
        r"<\s*/?\s*(system|assistant|instructions?)\s*>",
    )
]


def looks_like_instructions(text: str) -> bool:
    """True when text addresses the system rather than describing care."""
    return any(p.search(text) for p in _INSTRUCTION_PATTERNS)


@dataclass
class DocumentPage:
    text: str
    page: int | None = None  # 1-based for PDFs


@dataclass
class AddedDocument:
    """What `add_documents` stored for one file."""

    file: str
    sha256: str
    chunks: int
    flagged_chunks: int
    replaced: bool


def read_document(path: Path | str, display_name: str | None = None) -> list[DocumentPage]:
    """Text of a Markdown, text or PDF file; InputError on anything else."""
    p = Path(path)
    name = display_name or p.name
    if not p.is_file():
        raise InputError(name, "file not found")
    kind = SUPPORTED_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputError(name, f"unsupported document type {p.suffix or '(none)'}; use .md, .txt or .pdf")
    size = p.stat().st_size
    if size == 0:
        raise InputError(name, "file is empty")
    if size > MAX_BYTES:
        raise InputError(name, f"file is {size / 1e6:.0f} MB; the limit for a document is {MAX_BYTES // 1_000_000} MB")
    if kind == "pdf":
        return _read_pdf(p, name)
    data = p.read_bytes()
    if b"\0" in data:
        raise InputError(name, "binary content in a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InputError(name, "document has no text")
    return [DocumentPage(text)]


def _read_pdf(path: Path, name: str) -> list[DocumentPage]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(name, "PDF is password-protected")
        pages = [DocumentPage((page.extract_text() or ""), i) for i, page in enumerate(reader.pages, start=1)]
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(name, f"PDF cannot be read ({type(exc).__name__}: {exc})") from None
    pages = [pg for pg in pages if pg.text.strip()]
    if not pages:
        raise InputError(name, "PDF has no extractable text (a scanned image? OCR is not supported)")
    return pages


def _split_long(paragraph: str, limit: int) -> list[str]:
    """Split an over-long paragraph at sentence ends, then hard at the limit."""
    sentences = re.split(r"(?<=[.!?;])\s+", paragraph)
    out: list[str] = []
    current = ""
    for s in sentences:
        while len(s) > limit:
            out.append(s[:limit])
            s = s[limit:]
        if current and len(current) + 1 + len(s) > limit:
            out.append(current)
            current = s
        else:
            current = f"{current} {s}".strip()
    if current:
        out.append(current)
    return out


def chunk_text(text: str, max_chars: int = MAX_CHUNK_CHARS, min_chars: int = MIN_CHUNK_CHARS) -> list[str]:
    """Paragraph-packed chunks of at most `max_chars`.

    Paragraphs (blank-line separated; a Markdown heading starts a new one)
    are packed together until the limit, so a chunk is a readable excerpt a
    clinician can recognise in the original document.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=#{1,6}\s)", text):
        block = re.sub(r"[ \t]+", " ", block).strip()
        if block:
            paragraphs.extend(_split_long(block, max_chars) if len(block) > max_chars else [block])
    chunks: list[str] = []
    current = ""
    for para in paragraphs:
        starts_section = para.startswith("#")
        if current and (len(current) + 2 + len(para) > max_chars or (starts_section and len(current) >= min_chars)):
            chunks.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        chunks.append(current)
    return chunks


def separate_instructions(chunk: str) -> tuple[str, str]:
    """(content, instruction-like lines) of one chunk.

    Why per line/sentence: one injected line ("SYSTEM: ignore previous
    instructions ...") inside a real protocol must not take the protocol's
    rules down with it. Lines (then sentences) that read like instructions to
    a machine are set apart; the rest stays searchable content."""
    kept: list[str] = []
    isolated: list[str] = []
    for line in chunk.split("\n"):
        if not looks_like_instructions(line):
            kept.append(line)
            continue
        sentences = re.split(r"(?<=[.!?;])\s+", line)
        clean = [x for x in sentences if not looks_like_instructions(x)]
        isolated.append(" ".join(x for x in sentences if looks_like_instructions(x)))
        if clean:
            kept.append(" ".join(clean))
    content = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return content, "\n".join(isolated).strip()


def document_passages(pages: list[DocumentPage], name: str, sha256: str, added_year: int) -> list[GuidelinePassage]:
    """Chunks of one document as passages (the text unquoted, as stored).
    Instruction-like lines become their own flagged passage (kept, shown by
    `kb search` as isolated, never returned for a report); the rest of the
    chunk stays an ordinary passage."""
    out: list[GuidelinePassage] = []
    # Name and content both in the id: the same file under two names, or two
    # versions of one name, never collide.
    prefix = hashlib.sha256(f"{name}\0{sha256}".encode()).hexdigest()[:12]
    n = 0
    for page in pages:
        for chunk in chunk_text(page.text):
            content, isolated = separate_instructions(chunk)
            for text, flagged in ((content, False), (isolated, True)):
                if not text:
                    continue
                n += 1
                where = f"page {page.page}, part {n}" if page.page is not None else f"part {n}"
                out.append(
                    GuidelinePassage(
                        id=f"userdoc-{prefix}-{n:04d}",
                        guideline=f"User document: {name}",
                        society=None,
                        year=added_year,
                        section=where,
                        text=text,
                        collection="user_documents",
                        source_file=name,
                        flagged_instructions=flagged,
                    )
                )
    return out


def add_documents(paths: list[Path | str], store: Any = None, progress: bool | None = None) -> list[AddedDocument]:
    """Read, chunk, embed and store user documents; re-adding a file with
    the same name replaces its earlier chunks. All files are read first, so a
    bad file stops the command before anything is stored."""
    from retrieval.store import GuidelineStore, passage_metadata

    prepared = []
    year = int(time.strftime("%Y"))
    for path in paths:
        p = Path(path)
        pages = read_document(p)
        sha = hashlib.sha256(p.read_bytes()).hexdigest()
        passages = document_passages(pages, p.name, sha, year)
        if not passages:
            raise InputError(p.name, "document has no text to index")
        prepared.append((p.name, sha, passages))

    store = store or GuidelineStore()
    col = store.user_documents(create=True)
    added: list[AddedDocument] = []
    for name, sha, passages in prepared:
        existing = col.get(where={"source_file": name}, include=[])
        replaced = bool(existing["ids"])
        if replaced:
            col.delete(ids=existing["ids"])
        vectors = store.embedder.encode([p.text for p in passages], show_progress_bar=bool(progress))
        metadatas = []
        for p in passages:
            meta = passage_metadata(p)
            meta.update({"sha256": sha, "trust": "data-only", "added_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            metadatas.append(meta)
        col.add(ids=[p.id for p in passages], documents=[p.text for p in passages], metadatas=metadatas, embeddings=vectors)
        added.append(AddedDocument(name, sha, len(passages), sum(p.flagged_instructions for p in passages), replaced))
    return added


def list_documents(store: Any = None) -> list[dict[str, Any]]:
    """One row per stored user document: name, chunks, flagged chunks."""
    from retrieval.store import GuidelineStore

    store = store or GuidelineStore()
    col = store.user_documents()
    if col is None or col.count() == 0:
        return []
    got = col.get(include=["metadatas"])
    rows: dict[str, dict[str, Any]] = {}
    for meta in got["metadatas"]:
        name = str((meta or {}).get("source_file", "?"))
        row = rows.setdefault(name, {"file": name, "chunks": 0, "flagged_chunks": 0, "added_at": meta.get("added_at")})
        row["chunks"] += 1
        row["flagged_chunks"] += int(bool(meta.get("flagged_instructions")))
    return sorted(rows.values(), key=lambda r: r["file"])
