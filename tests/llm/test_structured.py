"""Lenient JSON extraction and strict validation of model answers."""

import pytest
from pydantic import BaseModel

from papercoder.llm.client import parse_into
from papercoder.llm.structured import extract_json


class Item(BaseModel):
    name: str
    count: int


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": 1}', {"a": 1}),
        ('Here it is:\n```json\n{"a": [1, 2]}\n```\nDone.', {"a": [1, 2]}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('Sure! {"a": {"b": 2}} hope that helps', {"a": {"b": 2}}),
        ('{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}),
        ("The set {x} is small. {\"a\": 1}", {"a": 1}),
        ("[1, 2, 3]", [1, 2, 3]),
    ],
)
def test_extract_json_tolerates_what_models_do(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "no json here", "{broken: yes"])
def test_extract_json_explains_failure_to_the_model(text):
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json(text)


def test_validation_errors_name_the_fields():
    with pytest.raises(ValueError) as caught:
        parse_into(Item, '{"name": 3}')
    message = str(caught.value)
    assert "name" in message and "count" in message and "does not match the schema" in message


@pytest.mark.parametrize(
    "text, expected",
    [
        # thoughts with JSON-looking text inside come before the real answer
        ('<think>maybe {"name": "wrong", "count": 0}? no.</think>\n{"name": "right", "count": 2}', "right"),
        # the server dropped the opening tag
        ('I think {"name": "wrong"} is it.</think>{"name": "right", "count": 2}', "right"),
        # reasoning prose with a brace set before the answer
        ('Files could be {a, b}. Let me answer.\n```json\n{"name": "right", "count": 2}\n```', "right"),
        # a value that does not fit the schema comes first: the next one is taken
        ('First a note: {"note": 1}. The answer: {"name": "right", "count": 2}', "right"),
    ],
)
def test_parse_into_takes_the_answer_not_the_thoughts(text, expected):
    assert parse_into(Item, text).name == expected


@pytest.mark.parametrize("text", ["[" * 100_000, "{" * 100_000, '{"a": ' * 50_000, "[" * 3000 + "]" * 3000])
def test_hostile_nesting_is_a_value_error_not_a_recursion_error(text):
    with pytest.raises(ValueError):
        parse_into(Item, text)
