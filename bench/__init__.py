"""Benchmarks on the development sets in ``../shared/data`` (``make bench``)."""
