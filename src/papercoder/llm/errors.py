"""Errors of the model layer. All are user-facing (one line, non-zero exit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from papercoder.errors import PapercoderError

if TYPE_CHECKING:
    from papercoder.llm.types import Completion


class LLMError(PapercoderError):
    """A model call failed in a way retries did not fix."""


class ContextLengthError(LLMError):
    """The request did not fit the model's context window."""

    def __init__(self, message: str, limit: int | None = None):
        super().__init__(message)
        self.limit = limit


class PromptCutError(LLMError):
    """The server processed far fewer prompt tokens than were sent: it cut the prompt silently."""


class TruncatedError(LLMError):
    """The model stopped at its output limit (finish reason "length"); the text is incomplete."""

    def __init__(self, message: str, completion: "Completion"):
        super().__init__(message)
        self.completion = completion


class BudgetExceededError(LLMError):
    """The next call would take the run past its cost cap (``max_cost``)."""


class StructuredOutputError(LLMError):
    """The model's answer did not validate against the schema, even after a repair turn."""

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.text = text
