"""Retrieval and answering over the corpus (issue 3: answers with verifiable citations)."""
