"""Fitting prompts into the window: what gives way, in which order, and the answer room."""

import pytest

from papercoder.pipeline.coding import FIT_STEPS
from papercoder.pipeline.window import ContextBudgetError, Part, answer_room, fit_parts, margin, message_tokens, shorten


def parts():
    return [
        Part("paper", "The paper", "p" * 4000),
        Part("plan", "Plan", "q" * 2000),
        Part("design", "Design", "d" * 2000),
        Part("logic", "Logic", "l" * 6000),
        Part("config", "Config", "c" * 200),
        Part("analysis", "Analysis", "a" * 3000),
        Part("dependency:model.py", "Code of model.py", "m" * 8000, reduced="i" * 400),
        Part("interface:data.py", "Interface of data.py", "f" * 4000),
    ]


def build(chosen):
    return [{"role": "user", "content": "\n".join(f"{p.title}\n{p.text}" for p in chosen)}]


def fit(window):
    return fit_parts(parts(), build, window=window, min_output=1000, steps=FIT_STEPS, what="coding x.py")


def test_nothing_cut_when_it_fits():
    messages, taken = fit(20_000)
    assert taken == [] and "f" * 4000 in messages[0]["content"]


@pytest.mark.parametrize(
    "window,expected",
    [
        (8_400, 1),  # dropping the unrelated interface is enough
        (6_800, 2),  # then the dependency's code becomes its interface
        (5_000, 3),  # then the logic design is shortened
    ],
)
def test_cuts_follow_the_order(window, expected):
    messages, taken = fit(window)
    assert taken == [d for d, _ in FIT_STEPS][:expected]
    assert message_tokens(messages) + 1000 + margin(window) <= window
    assert answer_room(window, messages, 8192) >= 1000


def test_too_small_a_window_is_a_clear_error():
    with pytest.raises(ContextBudgetError, match="larger window"):
        fit(1_000)


def test_shorten_keeps_start_and_end():
    text = "START " + "x" * 5000 + " END"
    short = shorten(text, 1000)
    assert short.startswith("START") and short.endswith("END") and len(short) <= 1000
    assert "shortened to fit" in short and shorten("abc", 10) == "abc"
