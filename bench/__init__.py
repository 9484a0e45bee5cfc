"""Benchmarks on a synthetic city made by tiling the real OSM extracts (``make bench``)."""
