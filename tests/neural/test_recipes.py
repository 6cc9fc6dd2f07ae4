"""Student recipes: the label grammar round-trips, selections expand to grids, errors are clear."""

import numpy as np
import pytest
from bayes_w2s.neural.compare import DEFAULT_METHODS
from bayes_w2s.neural.methods import MethodSpec
from bayes_w2s.neural.recipes import DEFAULT_GRIDS, Recipe, Selection, parse_recipe, split_recipes

LABELS = [
    "xent",
    "logconf",
    "product",
    "centroid",
    "xent+wd(10)",
    "xent@lr=0.0001",
    "ve+budget(4000)",
    "xent+stop(weak-val)",
    "xent+stop(gt-val)",
    "xent+wd(select:weak-val)",
    "xent+cap(select:gt-val)",
    "xent@lr=select:weak-val",
    "ve+budget(select:weak-val)",
    "ve+budget(4|40|400:gt-val)",
    "ve+geometric(3,0.995)@steps",
    "ve+confidence(40)@per_pass",
    "tempered+confidence(4000)",
    "xent+l2(1)@steps=100@adam",
    "xent+kl(0.5)@epochs=2",
    "xent+cap(0.04)@sgd",
    "ve+budget(1e06)",
]


@pytest.mark.parametrize("label", LABELS)
def test_label_round_trips(label):
    r = parse_recipe(label)
    assert r.label() == label
    assert parse_recipe(r.label()) == r
    assert str(r) == label


@pytest.mark.parametrize(
    "old",
    [
        "ve+budget:budget=40",
        "ve+geometric:first=3,ratio=0.995@steps",
        "ve+constant:value=3",
        "tempered+confidence:budget=4000",
        "ve",
        "tempered",
        "xent",
        "ve+budget:budget=20@per_pass",
    ],
)
def test_old_method_strings_parse_to_the_same_training(old):
    r = parse_recipe(old)
    m = MethodSpec.parse(old)
    assert r.method_spec() == m
    assert r.label() == m.label()  # the old printed labels are the new canonical ones


def test_selection_expands_to_its_grid_in_order():
    r = parse_recipe("xent+wd(select:weak-val)")
    assert r.select == Selection("wd", DEFAULT_GRIDS["wd"], "weak-val")
    grid = r.grid()
    assert [g.weight_decay for g in grid] == list(DEFAULT_GRIDS["wd"])
    assert all(g.select is None and g.loss == "xent" for g in grid)
    ve = parse_recipe("ve+budget(4|40:gt-val)").grid()
    assert [g.label() for g in ve] == ["ve+budget(4)", "ve+budget(40)"]
    assert [g.method_spec().schedule.budget for g in ve] == [4.0, 40.0]
    caps = parse_recipe("xent+cap(select)").grid()
    assert [g.cap for g in caps] == list(DEFAULT_GRIDS["cap"])
    lrs = parse_recipe("xent@lr=1e-4|1e-3").grid()
    assert [g.label() for g in lrs] == ["xent@lr=0.0001", "xent@lr=0.001"]


def test_default_compare_labels_are_unique_and_include_the_baselines():
    labels = [parse_recipe(m).label() for m in DEFAULT_METHODS]
    assert len(set(labels)) == len(labels)
    assert "centroid" in labels
    assert any(
        parse_recipe(m).weight_decay
        or (parse_recipe(m).select and parse_recipe(m).select.knob == "wd")
        for m in DEFAULT_METHODS
    )
    assert any("weak-val" in m for m in labels)
    regs = [m for m in DEFAULT_METHODS if parse_recipe(m).is_regularized_baseline()]
    assert set(regs) == {
        "xent+wd(select:weak-val)",
        "xent@lr=select:weak-val",
        "xent+cap(select:weak-val)",
        "centroid",
        "xent+stop(weak-val)",
    }
    assert not parse_recipe("ve+budget(40)").is_regularized_baseline()
    assert not parse_recipe("xent").is_regularized_baseline()


@pytest.mark.parametrize(
    "bad, match",
    [
        ("xentropy", "unknown method"),
        ("xent+budget(40)", "takes no schedule"),
        ("ve+wd(select)+budget(select)", "one knob"),
        ("xent+wd(10", "unbalanced"),
        ("xent@lr=fast", "expected a number"),
        ("xent@momentum", "unknown option"),
        ("centroid+wd(1)", "closed-form"),
        ("xent+stop(test)", "stop rule"),
        ("xent+wd(1|2:test)", "selection rule"),
        ("ve+budget(1,2)", "takes 1 parameters"),
        ("xent+cap(1)@adam", "projected SGD"),
        ("xent@lr=-1", "lr must be"),
        ("ve+geometric(select)", "no default grid"),
        ("", "empty"),
    ],
)
def test_bad_recipes_fail_clearly(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_recipe(bad)


def test_split_recipes_respects_parentheses_and_old_parameter_lists():
    text = "xent,ve+geometric(3,0.995)@steps,ve+geometric:first=2,ratio=0.9@steps,xent+wd(1|10:weak-val)"
    assert split_recipes(text) == (
        "xent",
        "ve+geometric(3,0.995)@steps",
        "ve+geometric:first=2,ratio=0.9@steps",
        "xent+wd(1|10:weak-val)",
    )
    assert split_recipes("a+b(1);c") == ("a+b(1)", "c")


def test_recipe_value_is_frozen_and_hashable():
    r = parse_recipe("xent+wd(10)")
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        r.loss = "ve"  # type: ignore[misc]
    assert len({r, parse_recipe("xent+wd(10)"), Recipe("xent", weight_decay=10.0)}) == 1
    assert np.isclose(r.with_value("wd", 3).weight_decay, 3)
