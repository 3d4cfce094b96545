"""A tiny ledger, never installed: the developer runs it from the source tree."""

from .book import balance

__all__ = ["balance"]
