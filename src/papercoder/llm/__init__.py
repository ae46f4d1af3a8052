"""The model layer: one interface (:class:`LLM`) over every provider.

Stages call ``await llm.acomplete(messages, schema=..., stage=...)`` and get a
:class:`Completion`. Build an LLM from a model string with :func:`open_model`.
"""

from papercoder.llm.client import LLM
from papercoder.llm.errors import (
    BudgetExceededError,
    ContextLengthError,
    LLMError,
    StructuredOutputError,
    TruncatedError,
)
from papercoder.llm.fake import FakeReply, ScriptedProvider
from papercoder.llm.types import Completion, Message, RawResponse, Request, Usage

__all__ = [
    "LLM",
    "BudgetExceededError",
    "Completion",
    "ContextLengthError",
    "FakeReply",
    "LLMError",
    "Message",
    "RawResponse",
    "Request",
    "ScriptedProvider",
    "StructuredOutputError",
    "TruncatedError",
    "Usage",
]
