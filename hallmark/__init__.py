"""Hallmark's base layer: settings, error types and the database.

Everything else (vision, models, index, crawlers, api, cli) imports from here; this package imports
none of them, so the layers never form a cycle.
"""

__version__ = "0.1.0"
