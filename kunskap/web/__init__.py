"""The web layer: FastAPI app factory, JSON API, Swedish HTML pages."""
