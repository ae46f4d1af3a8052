"""Fakes for tests and benchmarks: HTTP servers that speak the OpenAI and Anthropic APIs.

- :class:`papercoder.testing.fake_openai.FakeOpenAIServer`
- :class:`papercoder.testing.fake_anthropic.FakeAnthropicServer`
- :class:`papercoder.testing.fake_http.Reply`: one scripted answer or fault, for either server.

For an in-process model without HTTP use :class:`papercoder.llm.ScriptedProvider`.
"""

from papercoder.testing.fake_http import PrefixCache, RecordedRequest, Reply

__all__ = ["PrefixCache", "RecordedRequest", "Reply"]
