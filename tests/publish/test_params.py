"""Typed notebook parameters (wpeval.publish.params): parsing, type rules, YAML files, and a bad
parameter refused by `wpeval run` before any notebook executes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from wpeval.cli import main
from wpeval.exceptions import ParameterError
from wpeval.publish import params

FIXTURES = Path(__file__).resolve().parents[1] / "run_fixtures"
OK = FIXTURES / "ok.ipynb"

CELL = """\
data_path: str = "data.parquet"  # referral-level data
seed: int = 7  # seed
alpha: float = 0.05  # 1 - confidence level
strict: bool = False  # raise on contract errors
cpa: str | None = None  # CPA code or None for all
blocks: list[str] = ["district", "period"]  # strata
options: dict = {"a": 1}  # extra options
"""


def test_parse_types_defaults_and_docs():
    sch = params.parse_parameters(CELL, notebook="nb")
    assert sch.names == ["data_path", "seed", "alpha", "strict", "cpa", "blocks", "options"]
    by = {p.name: p for p in sch.params}
    assert by["seed"].type == "int" and by["seed"].default == 7 and by["seed"].doc == "seed"
    assert by["cpa"].type == "str | None" and by["cpa"].optional and by["cpa"].default is None
    assert by["blocks"].type == "list[str]" and by["blocks"].default == ["district", "period"]
    assert by["alpha"].doc == "1 - confidence level"
    assert by["options"].type == "dict"


def test_comment_hash_inside_string_is_not_the_doc():
    sch = params.parse_parameters('label: str = "a # b"  # the label\n')
    assert sch.params[0].default == "a # b" and sch.params[0].doc == "the label"


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("x = 1\n", "annotated assignment"),
        ("x: int = len('ab')\n", "must be a literal"),
        ("x: tuple = (1, 2)\n", "unsupported type"),
        ("x: int = 1.5\n", "expects int"),
        ("x: int = 1\nx: int = 2\n", "defined twice"),
        ("import os\n", "annotated assignment"),
        ("x: int\n", "no default"),
    ],
)
def test_parse_rejects(source, fragment):
    with pytest.raises(ParameterError, match=fragment):
        params.parse_parameters(source)


def _spec(t):
    return params.ParamSpec("p", t, None)


@pytest.mark.parametrize(
    "ptype, value, expected",
    [
        ("float", 3, 3.0),  # an int is accepted for a float and stored as float
        ("float", 0.5, 0.5),
        ("int", 5, 5),
        ("bool", True, True),
        ("str | None", None, None),
        ("list[str]", ["a", "b"], ["a", "b"]),
        ("list[float]", [1, 2.5], [1.0, 2.5]),
        ("dict", {"k": [1, "x"]}, {"k": [1, "x"]}),
    ],
)
def test_check_value_accepts(ptype, value, expected):
    out = params.check_value(_spec(ptype), value)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    "ptype, value",
    [
        ("int", True),  # bool is not accepted as an int
        ("float", False),  # ... nor as a float
        ("int", "5"),  # no string -> number coercion
        ("float", "0.5"),
        ("int", 2.0),
        ("str", 5),
        ("bool", 1),
        ("str", None),  # None only for `T | None`
        ("list[str]", ["a", 1]),
        ("list[str]", "a"),
        ("dict", [1]),
        ("str", dt.date(2011, 6, 1)),  # YAML dates are not literals here
        ("str", object()),
    ],
)
def test_check_value_refuses(ptype, value):
    with pytest.raises(ParameterError) as err:
        params.check_value(_spec(ptype), value, "nb")
    msg = str(err.value)
    assert "'p'" in msg and ptype in msg and "nb" in msg


def test_load_unknown_parameter_lists_known_ones():
    with pytest.raises(ParameterError) as err:
        params.load(OK, {"sede": 1})
    msg = str(err.value)
    assert "'sede'" in msg
    for known in ("n", "label", "scale", "seed", "groups", "note", "output_dir"):
        assert known in msg


def test_load_wrong_type_names_parameter_type_and_value():
    with pytest.raises(ParameterError) as err:
        params.load(OK, {"n": "200"})
    msg = str(err.value)
    assert "'n'" in msg and "expects int" in msg and "'200'" in msg and "(str)" in msg


def test_load_merges_defaults_in_cell_order():
    out = params.load(OK, {"scale": 3, "note": "x"})
    assert list(out) == ["n", "label", "scale", "seed", "groups", "note", "cpa", "output_dir"]
    assert out["scale"] == 3.0 and isinstance(out["scale"], float)
    assert out["n"] == 200 and out["note"] == "x" and out["groups"] == ["low", "high"]


def test_schema_by_name_uses_search_path(monkeypatch):
    monkeypatch.setenv("WPEVAL_NOTEBOOK_DIR", str(FIXTURES))
    assert params.schema("ok").path == str(FIXTURES / "ok.ipynb")
    with pytest.raises(ParameterError, match="known notebooks:.*failing"):
        params.schema("no_such_notebook")


def test_param_file_yaml_is_safe_load_only(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"common:\n  seed: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        params.read_param_file(evil)
    assert not marker.exists()  # nothing was executed


def test_param_file_shape_and_values_for(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        "common:\n  seed: 3\n  not_in_ok: 1\nok:\n  scale: 1\n  label: smoke\n"
        "other_notebook:\n  whatever: 2\n"
    )
    raw = params.read_param_file(f)
    sch = params.schema(OK)
    vals = params.values_for(sch, raw)
    # common keys apply only where the parameter exists; other sections are ignored
    assert vals == {"seed": 3, "scale": 1, "label": "smoke"}
    f.write_text("ok:\n  sclae: 1\n")
    with pytest.raises(ParameterError, match="'sclae'.*known parameters"):
        params.values_for(sch, params.read_param_file(f))
    f.write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="mapping"):
        params.read_param_file(f)
    f.write_text("common:\n  when: 2011-06-01\n")  # a YAML date: refused with a hint
    with pytest.raises(ParameterError, match="quote dates"):
        params.load(sch, {"label": params.read_param_file(f)["common"]["when"]})


def test_parse_cli_value_types_as_yaml_scalars():
    assert params.parse_cli_value("5") == 5
    assert params.parse_cli_value("0.5") == 0.5
    assert params.parse_cli_value("true") is True
    assert params.parse_cli_value("yes") == "yes"  # YAML 1.1 booleans are not taken
    assert params.parse_cli_value("CPA01") == "CPA01"
    assert params.parse_cli_value("2011-06-01") == "2011-06-01"


def test_bad_parameter_refused_before_execution(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ok:\n  n: '200'\n")  # a quoted number is a string: refused, not cast
    out = tmp_path / "out"
    code = main(
        ["run", "--notebook", str(OK), "--params", str(bad), "--out", str(out), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "'n'" in err and "expects int" in err and "'200'" in err
    assert not out.exists()  # nothing ran, nothing was written
