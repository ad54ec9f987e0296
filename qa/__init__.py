"""Answering: hybrid retrieval, the offline and LLM answerers, citation checks; reads the corpus through Store."""
