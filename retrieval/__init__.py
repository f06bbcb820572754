"""Guideline knowledge: corpus, offline embedder, Chroma store, hybrid search."""
