"""Consistency checks of planning answers: problems for the model, fallbacks that always work."""

from papercoder.pipeline.plancheck import clean_name, clean_packages, review_design, review_logic, salvage_design
from papercoder.pipeline.schemas import Design, FileLogic, LogicDesign


def design(files, entry="main.py", **kw):
    return Design(
        implementation_approach="x",
        file_list=files,
        entry_point=entry,
        class_diagram=kw.get("cd", "classDiagram\n  class A"),
        sequence_diagram=kw.get("sd", "```mermaid\nsequenceDiagram\n  A->>B: hi\n```"),
    )


def logic(tasks, entries, packages=()):
    return LogicDesign(
        required_packages=list(packages),
        logic_analysis=[FileLogic(path=p, analysis=f"does {p}", depends_on=d) for p, d in entries],
        task_list=tasks,
    )


def test_good_design_has_no_problems_and_clean_diagrams():
    review = review_design(design(["model.py", "./main.py", "main.py"]))
    assert review.problems == []
    assert review.value.file_list == ["model.py", "main.py"]
    assert review.value.sequence_diagram == "sequenceDiagram\n  A->>B: hi\n"


def test_unsafe_odd_and_reserved_names_are_dropped():
    review = review_design(design(["../../x.py", "/etc/passwd.py", "a b.py", "file", "README.md", "model.py", "main.py"]))
    assert review.value.file_list == ["model.py", "main.py"]
    assert len(review.problems) == 4  # README.md is dropped without asking the model
    assert any("../../x.py" in p and "safe" in p for p in review.problems)
    assert any("README.md" in f for f in review.fixes) and not any("README.md" in f for f in review.fallbacks)


def test_a_file_cannot_also_be_a_folder():
    review = review_design(design(["model.py", "model.py/layers.py", "main.py"]))
    assert review.value.file_list == ["model.py", "main.py"] and review.problems


def test_missing_entry_point_is_added():
    review = review_design(design(["model.py", "trainer.py"], entry=""))
    assert review.value.entry_point == "main.py" and review.value.file_list[-1] == "main.py"
    assert any("entry point" in p for p in review.problems)
    named = review_design(design(["model.py"], entry="src/run_all.py"))
    assert named.value.file_list == ["model.py", "src/run_all.py"] and named.problems
    conventional = review_design(design(["model.py", "train.py"], entry="main.py"))
    assert conventional.value.entry_point == "train.py" and conventional.problems == []


def test_empty_file_list_falls_back_to_one_file():
    review = review_design(design([], entry="", cd="", sd=""))
    assert review.value.file_list == ["main.py"]
    assert review.value.class_diagram == "classDiagram\n"
    assert review.problems and any("one-file plan" in f for f in review.fallbacks)


def test_salvage_finds_python_names_in_broken_json():
    salvaged = salvage_design('{"file_list": ["main.py", "utils/io.py", "main.py"')
    assert salvaged.file_list == ["main.py", "utils/io.py"]


def test_task_list_disagreeing_with_file_list():
    d = review_design(design(["data.py", "model.py", "main.py"])).value
    review = review_logic(logic(["model.py", "extra.py", "main.py"], [("model.py", []), ("main.py", ["model.py"])]), d)
    plan = review.value
    assert plan.task_list == ["model.py", "main.py", "data.py"]
    assert [x.path for x in plan.logic_analysis] == plan.task_list
    assert any("extra.py" in p for p in review.problems) and any("data.py" in p for p in review.problems)
    assert plan.logic_of("data.py").analysis == ""


def test_unknown_and_self_dependencies_dropped():
    d = design(["a.py", "main.py"])
    review = review_logic(logic(["a.py", "main.py"], [("a.py", ["a.py", "torch"]), ("main.py", ["a.py", "./a.py"])]), d)
    assert review.value.dependencies() == {"a.py": [], "main.py": ["a.py"]}
    assert len(review.problems) == 1 and "torch" in review.problems[0]


def test_cycle_broken_by_task_order():
    d = design(["a.py", "b.py", "c.py", "main.py"])
    entries = [("a.py", ["c.py"]), ("b.py", ["a.py"]), ("c.py", ["b.py"]), ("main.py", ["c.py", "a.py"])]
    review = review_logic(logic(["a.py", "b.py", "c.py", "main.py"], entries), d)
    assert any("cycle" in p for p in review.problems)
    assert review.value.dependencies() == {"a.py": [], "b.py": ["a.py"], "c.py": ["b.py"], "main.py": ["c.py", "a.py"]}


def test_consistent_logic_has_no_problems():
    d = design(["model.py", "main.py"])
    review = review_logic(logic(["model.py", "main.py"], [("model.py", []), ("main.py", ["model.py"])], ["torch"]), d)
    assert review.problems == [] and review.fallbacks == []
    assert review.value.entry_point == "main.py"


def test_clean_name_and_packages():
    assert clean_name("`src/model.py`") == ("src/model.py", "")
    assert clean_name("model")[0] is None
    assert clean_packages(["torch>=2.0", "Torch", "pip install numpy", "", "not a package!", "scikit_learn", "scikit-learn"]) == [
        "torch>=2.0",
        "numpy",
        "scikit_learn",
    ]


def test_schemas_accept_common_shapes_models_give():
    d = Design.model_validate({
        "implementation_approach": ["Use NumPy.", "Keep it small."],
        "file_list": [{"path": "model.py", "description": "the model"}, "main.py"],
        "entry_point": "python main.py --config config.yaml",
        "class_diagram": "classDiagram", "sequence_diagram": "sequenceDiagram", "unclear_points": "the split",
    })
    assert d.file_list == ["model.py", "main.py"] and d.entry_point == "main.py"
    assert d.implementation_approach == "Use NumPy.\nKeep it small." and d.unclear_points == ["the split"]
    logic = LogicDesign.model_validate({
        "required_packages": "numpy, torch>=2.0",
        "logic_analysis": {"model.py": "the model", "main.py": {"analysis": "runs it", "depends_on": "model.py"}},
        "task_list": "model.py, main.py",
    })
    assert logic.required_packages == ["numpy", "torch>=2.0"] and logic.task_list == ["model.py", "main.py"]
    assert [(x.path, x.depends_on) for x in logic.logic_analysis] == [("model.py", []), ("main.py", ["model.py"])]
    named = LogicDesign.model_validate({"required_packages": [], "task_list": [],
                                        "logic_analysis": [{"file": "a.py", "analysis": "x"}]})
    assert named.logic_analysis[0].path == "a.py"


def test_a_diagram_that_does_not_parse_asks_for_a_repair_with_the_line():
    review = review_design(design(["model.py", "main.py"], cd="classDiagram\n  class A\n  A ==> B : uses"))
    assert any("class diagram does not parse" in p and "line 3" in p for p in review.problems)
    assert not review.fallbacks  # a diagram we cannot draw is shown as source; the plan itself is fine
    assert any("class diagram does not parse" in f for f in review.fixes)
