"""The checklist: a requirement tree from the model's answer, merged across sections, de-duplicated."""

from __future__ import annotations

import json

from papercoder.rubric import node_from_dict
from papercoder.pipeline.requirements import Checklist, checklist_tree, merge_checklists, section_groups, tree_to_dict


def _answer(groups):
    return Checklist.model_validate({"groups": groups})


def test_an_answer_becomes_a_paperbench_tree():
    answer = _answer([
        {"requirement": "The model of Section 3 is implemented", "weight": 3,
         "items": [{"requirement": "The loss is the sum of the MSE and the L2 penalty (Eq. 2)", "weight": 2},
                   {"requirement": "The hidden width is 16", "weight": 1}]},
        {"requirement": "The baseline is implemented", "items": [{"requirement": "A linear regression baseline"}]},
    ])
    tree, _ = checklist_tree(answer, "Tiny Ridge Networks")
    assert [leaf.id for leaf in tree.leaves()] == ["1.1", "1.2", "2.1"]
    assert all(leaf.task_category == "Code Development" for leaf in tree.leaves())
    assert tree.sub_tasks[0].weight == 3 and tree.sub_tasks[0].sub_tasks[0].weight == 2
    again = node_from_dict(json.loads(json.dumps(tree_to_dict(tree))))  # the shape grade --rubric reads
    assert [leaf.requirements for leaf in again.leaves()] == [leaf.requirements for leaf in tree.leaves()]


def test_empty_groups_bad_weights_and_blank_items_are_dropped():
    answer = _answer([
        {"requirement": "Nothing here", "items": []},
        {"requirement": "  ", "items": [{"requirement": "x"}]},
        {"requirement": "Data", "weight": -4, "items": [{"requirement": " "}, {"requirement": "Load MNIST", "weight": 0}]},
    ])
    tree, _ = checklist_tree(answer, "P")
    assert [g.requirements for g in tree.sub_tasks] == ["Data"]
    assert tree.sub_tasks[0].weight == 1 and tree.sub_tasks[0].sub_tasks[0].weight == 1


def test_merging_section_answers_removes_duplicate_requirements():
    first = _answer([{"requirement": "Model", "items": [{"requirement": "The hidden width is 16."},
                                                         {"requirement": "Adam with learning rate 0.001"}]}])
    second = _answer([{"requirement": "model", "items": [{"requirement": "the hidden width is 16"},
                                                          {"requirement": "Dropout 0.1 after each layer"}]},
                      {"requirement": "Evaluation", "items": [{"requirement": "Test MSE is reported"}]}])
    merged = merge_checklists([first, second])
    assert [g.requirement for g in merged.groups] == ["Model", "Evaluation"]
    assert [i.requirement for i in merged.groups[0].items] == [
        "The hidden width is 16.", "Adam with learning rate 0.001", "Dropout 0.1 after each layer"]


def test_section_groups_cover_every_section_once_within_a_size():
    sections = [("1 Intro", 100), ("2 Method", 5000), ("3 Experiments", 3000), ("4 More", 2500), ("A Proofs", 800)]
    groups = section_groups(sections, max_tokens=6000)
    assert [name for group in groups for name in group] == [name for name, _ in sections]
    assert all(sum(dict(sections)[n] for n in g) <= 6000 or len(g) == 1 for g in groups)
    assert section_groups(sections, max_tokens=100_000) == [[name for name, _ in sections]]
