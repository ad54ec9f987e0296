"""What the store raises: one base class, so a surface catches ``StoreError`` and shows its message."""


class StoreError(RuntimeError):
    """The store cannot be opened or used as asked."""


class ModelMismatchError(StoreError):
    """The store was built with another embedding model; mixing vectors would make search meaningless."""


class EmbedderError(StoreError):
    """The configured model cannot be loaded."""


class VectorStoreError(StoreError):
    """Chroma cannot be reached or refused an operation."""
