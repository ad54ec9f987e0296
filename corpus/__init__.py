"""The one store: article registry and full text, keyword index, Chroma vectors and the model that made them."""
