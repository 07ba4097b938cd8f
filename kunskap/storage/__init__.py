"""Storage backends: the SQLite store (the embedded default, next to a FAISS index)."""
