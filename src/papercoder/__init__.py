"""papercoder: turn a machine-learning paper into a code repository that reproduces it."""

__version__ = "0.1.0"
