"""Exporting a generated repository for other tools (PaperBench's grader)."""
