"""The schema of a notebook's parameters: :class:`ParamSpec` (name, type, default, comment)
and :class:`NotebookSchema` records, :func:`parse_parameters`, which reads them from the
source of the cell tagged ``parameters`` with :mod:`ast` and :mod:`tokenize` (nothing is
executed), and :func:`check_value`, which checks one value against its spec. Every name is
also importable from :mod:`wpeval.publish.params`.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from typing import Any

from wpeval.exceptions import ParameterError

#: base type names understood in a parameters cell
BASE_TYPES = ("str", "int", "float", "bool", "dict", "list[str]", "list[int]", "list[float]")
#: the tag that marks the parameters cell (papermill's convention)
PARAMETERS_TAG = "parameters"


@dataclass(frozen=True)
class ParamSpec:
    """One notebook parameter.

    Attributes
    ----------
    name : str
        Variable name in the notebook.
    type : str
        Normalised type, one of :data:`BASE_TYPES`, optionally followed by ``" | None"``.
    default : object
        The literal default from the parameters cell (already validated against ``type``).
    doc : str
        The comment at the end of the line ("" if none).
    """

    name: str
    type: str
    default: Any
    doc: str = ""

    @property
    def optional(self) -> bool:
        """True when ``None`` is an accepted value."""
        return self.type.endswith(" | None")


@dataclass(frozen=True)
class NotebookSchema:
    """The typed parameters of one notebook.

    Attributes
    ----------
    notebook : str
        Notebook name (file stem, e.g. ``"02_prime_comparison"``).
    path : str
        Path of the notebook file the schema was read from ("" when parsed from source).
    params : tuple of ParamSpec
        In the order of the parameters cell.
    """

    notebook: str
    path: str
    params: tuple[ParamSpec, ...]

    @property
    def names(self) -> list[str]:
        """Parameter names in cell order."""
        return [p.name for p in self.params]

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def get(self, name: str) -> ParamSpec:
        """The spec of parameter ``name`` (ParameterError listing the known ones if absent)."""
        for p in self.params:
            if p.name == name:
                return p
        raise ParameterError(
            f"notebook {self.notebook!r} has no parameter {name!r}; "
            f"known parameters: {', '.join(self.names) or '(none)'}"
        )

    def defaults(self) -> dict:
        """Mapping name -> default value."""
        return {p.name: p.default for p in self.params}


# -- parsing the parameters cell ------------------------------------------------------------


def _normalise_type(annotation: ast.expr, line: int) -> str:
    text = ast.unparse(annotation).replace(" ", "")
    optional = False
    for none_form in ("|None", "None|"):
        if none_form in text:
            text = text.replace(none_form, "", 1)
            optional = True
    if text.startswith("Optional[") and text.endswith("]"):
        text, optional = text[len("Optional[") : -1], True
    text = {
        "List[str]": "list[str]",
        "List[int]": "list[int]",
        "List[float]": "list[float]",
        "Dict": "dict",
        "dict[str,Any]": "dict",
        "dict[str,object]": "dict",
    }.get(text, text)
    if text not in BASE_TYPES:
        raise ParameterError(
            f"line {line} of the parameters cell: unsupported type "
            f"{ast.unparse(annotation)!r}; use one of {', '.join(BASE_TYPES)} "
            "(optionally '| None')"
        )
    return text + (" | None" if optional else "")


def _comments_by_line(source: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):  # pragma: no cover - ast.parse fails first
        pass
    return out


def parse_parameters(source: str, notebook: str = "<source>", path: str = "") -> NotebookSchema:
    """Parse the source of a parameters cell into a :class:`NotebookSchema`.

    Parameters
    ----------
    source : str
        Python source of the cell: annotated literal assignments ``name: type = literal  # doc``.
        Blank lines and comment-only lines are allowed; anything else is an error.
    notebook : str, optional
        Name used in error messages and stored in the schema.
    path : str, optional
        Notebook path stored in the schema.

    Returns
    -------
    NotebookSchema

    Raises
    ------
    ParameterError
        A statement that is not an annotated assignment, a non-literal default, an unsupported
        type, a default that does not match its type, or a name defined twice.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"{notebook}: parameters cell is not valid Python ({exc})") from exc
    comments = _comments_by_line(source)
    specs: list[ParamSpec] = []
    seen: set[str] = set()
    for node in tree.body:
        where = f"{notebook}: line {node.lineno} of the parameters cell"
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            raise ParameterError(
                f"{where}: expected an annotated assignment "
                f"'name: type = literal  # doc', got {ast.unparse(node)!r}"
            )
        name = node.target.id
        if node.value is None:
            raise ParameterError(f"{where}: parameter {name!r} has no default value")
        try:
            default = ast.literal_eval(node.value)
        except ValueError as exc:
            raise ParameterError(
                f"{where}: default of {name!r} must be a literal, got {ast.unparse(node.value)!r}"
            ) from exc
        if name in seen:
            raise ParameterError(f"{where}: parameter {name!r} is defined twice")
        seen.add(name)
        ptype = _normalise_type(node.annotation, node.lineno)
        spec = ParamSpec(
            name=name,
            type=ptype,
            default=default,
            doc=comments.get(node.end_lineno or node.lineno, ""),
        )
        spec = ParamSpec(name, ptype, check_value(spec, default, notebook), spec.doc)
        specs.append(spec)
    return NotebookSchema(notebook=notebook, path=path, params=tuple(specs))


# -- finding notebooks ----------------------------------------------------------------------


def _is_literal(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_literal(v) for k, v in value.items())
    return False


def _type_error(spec: ParamSpec, value: Any, notebook: str, extra: str = "") -> ParameterError:
    return ParameterError(
        f"parameter {spec.name!r} of notebook {notebook!r} expects "
        f"{spec.type}, got {value!r} ({type(value).__name__}){extra}"
    )


def check_value(spec: ParamSpec, value: Any, notebook: str = "<notebook>") -> Any:
    """Check ``value`` against ``spec`` and return it (ints given for floats become floats).

    Parameters
    ----------
    spec : ParamSpec
        The parameter.
    value : object
        Candidate value (already typed: e.g. from YAML or Python).
    notebook : str, optional
        Name for the error message.

    Raises
    ------
    ParameterError
        Naming the parameter, the expected type and the value given.
    """
    if not _is_literal(value):
        hint = " (quote dates in YAML)" if type(value).__name__ in ("date", "datetime") else ""
        raise _type_error(
            spec,
            value,
            notebook,
            "; values must be plain literals (str, int, float, bool, None, list, dict)" + hint,
        )
    if value is None:
        if spec.optional:
            return None
        raise _type_error(spec, value, notebook)
    base = spec.type.removesuffix(" | None")
    if base == "str" and isinstance(value, str):
        return value
    if base == "bool" and isinstance(value, bool):
        return value
    if base == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base == "dict" and isinstance(value, dict):
        return value
    if base.startswith("list[") and isinstance(value, list):
        inner = ParamSpec(spec.name, base[5:-1], None)
        try:
            return [check_value(inner, v, notebook) for v in value]
        except ParameterError:
            raise _type_error(spec, value, notebook) from None
    raise _type_error(spec, value, notebook)
