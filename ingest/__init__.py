"""Bulk ingest: readers for files, folders, URLs and feeds, the chunker, and the pipeline that stores them."""
