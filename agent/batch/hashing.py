"""Content and configuration hashes: when may a finished case be skipped?

Why both: a case is done only if the *same inputs* went through the *same
software and settings*. The input hash covers every file's bytes (not
names or times: a copied study is the same study, an edited one is not)
plus the clinical context. The configuration hash covers what changes a
report: app and schema version, each expert's name, version and options
schema, the backend and model, output formats, strictness, the content of
every user-supplied weights file in effect, and retrieval (with, when it is
on, the guideline corpus content and the question memory's source files).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.batch.manifest import CaseSpec

REPO = Path(__file__).resolve().parents[2]


def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def expand_case_files(spec: CaseSpec) -> list[Path]:
    """The files the intake will see for this case (folders expanded)."""
    from agent.intake.group import expand_paths

    files, _ = expand_paths(spec.files)
    return files


def input_hash(spec: CaseSpec, files: list[Path] | None = None) -> str:
    """SHA-256 over the sorted per-file content hashes and the context.

    Sorted by content hash, not by path, so moving the data tree or
    renaming the case folder does not invalidate finished work.
    """
    files = expand_case_files(spec) if files is None else files
    h = hashlib.sha256(b"cardioagent-batch-input-v1\0")
    for digest in sorted(_sha256_file(f) for f in files):
        h.update(digest.encode() + b"\0")
    h.update(spec.context.model_dump_json().encode())
    return h.hexdigest()


def _tools_fingerprint() -> list[dict[str, Any]]:
    """Name, version and options schema of every registered expert.

    Reads the tool classes without running them; an expert missing from
    this build is part of the configuration too (its studies go unanalysed).
    """
    import importlib

    from experts.registry import TOOL_PATHS

    out = []
    for modality, target in sorted(TOOL_PATHS.items(), key=lambda kv: kv[0].value):
        module_name, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except ModuleNotFoundError:
            out.append({"modality": modality.value, "tool": None})
            continue
        schema = json.dumps(cls.Options.model_json_schema(), sort_keys=True)
        out.append({"modality": modality.value, "tool": cls.name, "version": cls.version,
                    "options_sha256": hashlib.sha256(schema.encode()).hexdigest()})  # fmt: skip
    return out


def _corpus_fingerprint() -> str | None:
    """The corpus retrieval will read: $CARDIO_CORPUS_DIR when set, as in
    `retrieval.search`, else the bundled one."""
    corpus = Path(os.environ.get("CARDIO_CORPUS_DIR") or REPO / "retrieval" / "corpus")
    if not corpus.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted(corpus.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(corpus)).encode() + b"\0" + _sha256_file(f).encode())
    return h.hexdigest()


def _memory_fingerprint() -> str:
    """The question memory retrieval fuses (its labelled question files):
    editing them changes which statements a report cites, like the corpus.
    Read through the module at call time so tests can point it elsewhere."""
    from retrieval import question_memory as qm

    return qm.memory_fingerprint(qm.QUESTIONS_DIR)


def _backend_fingerprint(name: str | None) -> dict[str, Any]:
    from agent.backends import get_backend

    backend = get_backend(name)
    return {"backend": backend.name, "model": backend.model}


def configuration(formats: tuple[str, ...], backend: str | None, strict: bool, retrieval: bool,
                  weights: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything that changes a report, as a JSON-able dict (stored in batch.json).

    `weights` ("tool.option" -> path) enter as content hashes only, so the
    hash follows the bytes, not the path; a missing file raises WeightsError.
    """
    from agent import __version__
    from agent.weights import weights_fingerprint
    from experts.core.types import SCHEMA_VERSION

    return {
        "app_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "tools": _tools_fingerprint(),
        **_backend_fingerprint(backend),
        "formats": sorted(set(formats) | {"json"}),
        "strict": strict,
        "retrieval": retrieval,
        "corpus_sha256": _corpus_fingerprint() if retrieval else None,
        # Added keys appear only when they apply, so a batch that uses
        # neither keeps the hash it had before they existed.
        **({"memory_sha256": _memory_fingerprint()} if retrieval else {}),
        **({"weights_sha256": weights_fingerprint(weights)} if weights else {}),
    }


def configuration_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
