"""kunskap: semantic search over the climate work of Swedish municipalities and regions."""

__version__ = "0.1.0"
