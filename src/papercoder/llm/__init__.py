"""The model layer: one interface (:class:`LLM`) over every provider.

Stages call ``await llm.acomplete(messages, schema=..., stage=...)`` and get a
:class:`Completion`. Build an LLM from a model string with :func:`open_model`; every call
goes to the run's :class:`CallLog`, which also answers repeated calls.
"""

from papercoder.config import Price
from papercoder.llm.accounting import StageTotals
from papercoder.llm.calllog import CallLog
from papercoder.llm.client import LLM
from papercoder.llm.errors import (
    BudgetExceededError,
    ContextLengthError,
    LLMError,
    StructuredOutputError,
    TruncatedError,
)
from papercoder.llm.fake import FakeReply, ScriptedProvider
from papercoder.llm.models import open_model
from papercoder.llm.types import Completion, Message, RawResponse, Request, Usage

__all__ = [
    "LLM",
    "BudgetExceededError",
    "CallLog",
    "Completion",
    "ContextLengthError",
    "FakeReply",
    "LLMError",
    "Message",
    "Price",
    "RawResponse",
    "Request",
    "ScriptedProvider",
    "StageTotals",
    "StructuredOutputError",
    "TruncatedError",
    "Usage",
    "open_model",
]
