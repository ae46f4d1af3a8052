"""The run directory: its layout, its manifest, its lock, and what a stage is given to work in it."""
