"""Replies drafted from the company's documents, with citations, checked sentence by sentence
against the passages they cite (docs/drafting.md)."""
