"""Backends of the model layer, one module each; each imports its SDK only when used."""
