"""The report's Mermaid drawings: what design answers write parses and draws; the rest fails
with the line that could not be read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from papercoder.mermaid import DiagramError, render

CLASSES = """classDiagram
    %% the planned modules
    class Trainer {
        +model: Model
        +train(loader) dict
        +evaluate() float
    }
    class Model~T~ {
        <<abstract>>
        +forward(x: Tensor) Tensor
    }
    class DatasetLoader
    DatasetLoader : +load(path) list
    Trainer --> Model : trains
    Trainer "1" *-- "many" DatasetLoader
    Model <|-- ProtoNet
    ProtoNet ..> DatasetLoader
"""

SEQUENCE = """sequenceDiagram
    autonumber
    actor U as User
    participant M as Main
    participant T as Trainer
    U->>M: python main.py
    M->>+T: train(loader)
    loop every epoch
        T->>T: step()
        alt loss is nan
            T--xM: error
        else fine
            T-->>M: metrics
        end
    end
    Note over M,T: results written to results/
    M-)U: done
"""


def _svg(source: str) -> ET.Element:
    return ET.fromstring(render(source))


def test_a_class_diagram_draws_every_class_member_and_relation():
    svg = _svg(CLASSES)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    for name in ("Trainer", "Model", "DatasetLoader", "ProtoNet", "+train(loader) dict", "+load(path) list", "«abstract»", "trains"):
        assert name in texts
    relations = [e for e in svg.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "relation"]
    assert len(relations) == 4
    inherit = next(e for e in relations if "triangle" in (e.get("marker-start") or ""))
    assert inherit is not None
    assert any("5,4" in (e.get("stroke-dasharray") or "") for e in relations)  # the dependency is dashed


def test_a_sequence_diagram_draws_participants_messages_blocks_and_notes():
    svg = _svg(SEQUENCE)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert texts.count("Main") == 2 and texts.count("User") == 2  # top and bottom of each lifeline
    for words in ("python main.py", "train(loader)", "step()", "loop every epoch", "[else fine]", "results written to results/"):
        assert words in texts
    messages = [e for e in svg.iter() if e.get("class") == "message"]
    assert len(messages) == 6
    assert [e for e in svg.iter() if e.get("class") == "block"]


@pytest.mark.parametrize("source, says", [
    ("", "empty"),
    ("graph TD\n A-->B", "not a class or sequence diagram"),
    ("classDiagram\n class A {\n +x int\n", "never closed"),
    ("classDiagram\n A ==> B", "line 2"),
    ("sequenceDiagram\n A->>B: hi\n end", "closes no block"),
    ("sequenceDiagram\n loop forever\n A->>B: hi", "never closed"),
    ("sequenceDiagram\n A talks to B", "line 2"),
    ("classDiagram\n direction LR", "names no class"),
])
def test_what_does_not_parse_says_where(source, says):
    with pytest.raises(DiagramError, match=says):
        render(source)


def test_text_is_escaped():
    svg = render('classDiagram\n class A {\n +run(x) Dict<str, int> & "more"\n }')
    ET.fromstring(svg)  # well-formed XML
    assert "Dict&lt;str, int&gt; &amp;" in svg


def test_messages_without_text_and_boxes_of_participants_parse():
    svg = render("sequenceDiagram\n box Aqua Model side\n participant A\n participant B\n end\n A->>B\n B-->>A: ok")
    assert svg.count('class="message"') == 2
