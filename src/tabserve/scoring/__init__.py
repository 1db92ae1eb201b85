"""Batch scoring: a registry version scores a table, chunk by chunk, into a resumable output.

``partitions`` turns the configured sources into units of work (a file, or a
range of a SQL table), ``readers`` streams one partition in chunks, ``rows``
splits a chunk into a valid batch and its rejects, ``sinks`` writes a
partition's answers and then its done-marker, and ``runner`` plans, skips
finished partitions and scores the rest here or on a Dask cluster.
"""
