"""Reading the judge's answers: what counts as a valid sample, and how samples aggregate."""

import math
import statistics

import pytest

from papercoder.evaluate.verdicts import aggregate, parse_verdict, parse_leaf_verdict


def test_plain_json_verdict():
    v = parse_verdict(
        '{"critiques": [{"file": "model.py", "function": "forward", "severity": "High", '
        '"critique": "no residual"}], "score": 4}'
    )
    assert v.valid and v.score == 4
    assert v.critiques[0].severity == "high"
    assert (v.critiques[0].file, v.critiques[0].function) == ("model.py", "forward")


def test_fenced_json_with_prose_and_aliases():
    text = (
        "Here is my review.\n```json\n{\"critique_list\": [{\"file_name\": \"a.py\", \"func_name\": \"f\", "
        "\"severity_level\": \"low\", \"critique\": \"x\"},], \"score\": \"3\"}\n```\nThanks."
    )
    v = parse_verdict(text)
    assert v.valid and v.score == 3
    assert v.critiques[0].file == "a.py" and v.critiques[0].severity == "low"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("I think it deserves a 4.", "no JSON"),
        ('{"critiques": []}', "no score"),
        ('{"critiques": [], "score": 7}', "outside 1-5"),
        ('{"critiques": [], "score": 0}', "outside 1-5"),
        ('{"critiques": [], "score": 3.5}', "not a whole number"),
        ('{"critiques": [], "score": "great"}', "not a number"),
        ('{"critiques": [], "score": true}', "not a number"),
        ('[1, 2, 3]', "not a JSON object"),
        ('{"critiques": [], "score": NaN}', "not a number"),
    ],
)
def test_invalid_verdicts_are_data_not_errors(text, reason):
    v = parse_verdict(text)
    assert not v.valid
    assert reason in v.error


def test_malformed_critique_entries_are_dropped_but_the_score_stands():
    v = parse_verdict('{"critiques": ["just a string", {"critique": "ok one", "severity": "weird"}], "score": 2}')
    assert v.valid and v.score == 2
    assert [c.critique for c in v.critiques] == ["ok one"]
    assert v.critiques[0].severity == "medium"  # unknown severity is read as the middle one


def test_aggregate_mean_spread_and_counts():
    texts = [
        '{"critiques": [], "score": 4}',
        '{"critiques": [], "score": 2}',
        "garbage",
        '{"critiques": [], "score": 9}',
        '{"critiques": [], "score": 5}',
    ]
    summary = aggregate([parse_verdict(t) for t in texts])
    assert summary.valid == 3 and summary.invalid == 2
    assert summary.mean == pytest.approx((4 + 2 + 5) / 3)
    assert summary.std == pytest.approx(statistics.stdev([4, 2, 5]))
    assert summary.scores == [4, 2, 5]


def test_aggregate_with_no_valid_sample_has_no_mean():
    summary = aggregate([parse_verdict("nope"), parse_verdict('{"score": 6}')])
    assert summary.valid == 0 and summary.invalid == 2
    assert summary.mean is None and summary.std is None


def test_aggregate_single_sample_has_zero_spread():
    summary = aggregate([parse_verdict('{"score": 3, "critiques": []}')])
    assert summary.mean == 3 and summary.std == 0.0
    assert not math.isnan(summary.std)


@pytest.mark.parametrize(
    "text, score",
    [
        ('{"explanation": "found in fid.py", "score": 1}', 1),
        ('{"explanation": "missing", "score": 0}', 0),
        ('```json\n{"explanation": "ok", "score": "1"}\n```', 1),
        ('{"explanation": "ok", "score": 1.0}', 1),
    ],
)
def test_leaf_verdicts(text, score):
    v = parse_leaf_verdict(text)
    assert v.valid and v.score == score


@pytest.mark.parametrize("text", ['{"explanation": "x", "score": 0.5}', '{"score": 2}', "yes", '{"explanation": "x"}'])
def test_invalid_leaf_verdicts(text):
    v = parse_leaf_verdict(text)
    assert not v.valid and v.score == 0 and v.error
