"""Answering: hybrid retrieval, the offline and LLM answerers, citation checks, evaluation."""
