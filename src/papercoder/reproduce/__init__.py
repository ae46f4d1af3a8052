"""Running what was written: ``reproduce.sh`` in a fresh copy, locally or in a container."""
