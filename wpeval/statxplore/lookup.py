"""The editable label lookup of the Work Programme's Stat-Xplore databases.

Labels are data, read from ``wpeval/config/statxplore_contracts.yaml`` (see the comments there)
and from the programme file (``wpeval/config/programme.yaml`` or the one passed in): contract
labels map to ``(cpa, prime)``, payment-group labels to group codes, field labels (or field-URI
codes such as ``CONTRACT_CODE``) to canonical columns. No provider name is written in the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from wpeval.data import programme as _programme
from wpeval.exceptions import ParameterError
from wpeval.statxplore.demographics import Demographics, demographics_from_config

__all__ = ["ContractLookup", "load_lookup", "programme_from_data", "write_lookup"]


@dataclass(frozen=True)
class ContractLookup:
    """Labels of the Work Programme databases.

    Attributes
    ----------
    contracts : dict
        Contract label -> ``(cpa, prime)``.
    groups : dict
        Lower-cased payment-group label, code, ``pg<n>`` or ``group <n>`` -> group code.
    fields : dict
        Canonical column -> ``{"labels": [...], "uri_codes": [...]}``.
    databases : dict
        Database id -> ``table``, ``measure``, ``measure_label``, ``coverage``, ``fields_uri``.
    programme : wpeval.data.programme.Programme
        The programme the labels were generated from.
    demographics : Demographics
        Labels of the age-band, gender and disability breakdowns (the ``demographics``
        section).
    """

    contracts: dict
    groups: dict
    fields: dict
    databases: dict
    programme: object
    demographics: Demographics = demographics_from_config(None)

    def label_of(self, cpa: str, prime: str) -> str:
        """The first label that maps to ``(cpa, prime)`` (the one wpeval writes)."""
        for label, pair in self.contracts.items():
            if pair == (cpa, prime):
                return label
        raise ParameterError(f"no contract label for ({cpa!r}, {prime!r})")

    def database_of_table(self, table: str) -> str:
        """The database id whose ``table`` is ``table`` (e.g. "job_outcomes")."""
        for db, spec in self.databases.items():
            if spec["table"] == table:
                return db
        raise ParameterError(
            f"no database for table {table!r}; known tables: "
            f"{[s['table'] for s in self.databases.values()]}"
        )


def _generated_labels(raw: dict, prog) -> dict:
    out: dict[str, tuple[str, str]] = {}
    for fmt in raw.get("contract_label_formats") or []:
        for cpa, info in prog.cpas.items():
            for prime in info["primes"]:
                label = fmt.format(
                    cpa=cpa, cpa_number=info["number"], cpa_name=info["name"], prime=prime
                )
                if label in out and out[label] != (cpa, prime):
                    raise ParameterError(
                        f"contract label format {fmt!r} gives the same label "
                        f"{label!r} to two contracts"
                    )
                out.setdefault(label, (cpa, prime))
    return out


def _group_map(raw: dict, prog) -> dict:
    groups: dict[str, str] = {}
    for code, g in prog.payment_groups.items():
        for key in (
            g.label,
            code,
            f"pg{g.number}",
            f"group {g.number}",
            f"pg{g.number} - {g.label}",
            f"{g.number} - {g.label}",
        ):
            groups[str(key).strip().lower()] = code
    for alias, code in (raw.get("payment_group_aliases") or {}).items():
        if code not in prog.payment_groups:
            raise ParameterError(
                f"payment_group_aliases: {alias!r} maps to unknown group code "
                f"{code!r}; known codes: {list(prog.payment_groups)}"
            )
        groups[str(alias).strip().lower()] = code
    return groups


def load_lookup(path: str | Path | None = None, programme=None) -> ContractLookup:
    """Load the Stat-Xplore label lookup.

    Parameters
    ----------
    path : str or path, optional
        A YAML file shaped like ``wpeval/config/statxplore_contracts.yaml`` (the default).
    programme : Programme or str or path, optional
        The programme whose contracts and groups the labels are generated from (default
        :func:`wpeval.data.programme.load`).

    Returns
    -------
    ContractLookup

    Raises
    ------
    ParameterError
        Malformed file, an explicit entry naming a CPA or prime the programme lacks, or a
        label format that gives two contracts the same label.
    """
    prog = programme if hasattr(programme, "cpas") else _programme.load(programme)
    if path is None:
        text = (
            resources.files("wpeval.config")
            .joinpath("statxplore_contracts.yaml")
            .read_text("utf-8")
        )
        source = "wpeval/config/statxplore_contracts.yaml"
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    raw = yaml.safe_load(text) or {}
    if not isinstance(raw, dict):
        raise ParameterError(f"{source}: top level must be a mapping")
    contracts = _generated_labels(raw, prog)
    for entry in raw.get("contracts") or []:
        try:
            label, cpa, prime = str(entry["label"]), str(entry["cpa"]), str(entry["prime"])
        except (KeyError, TypeError) as exc:
            raise ParameterError(
                f"{source}: each contracts entry needs label, cpa and prime; got {entry!r}"
            ) from exc
        if cpa not in prog.cpas or prime not in prog.cpas[cpa]["primes"]:
            raise ParameterError(
                f"{source}: contract label {label!r} maps to ({cpa!r}, "
                f"{prime!r}), which is not a contract of the programme"
            )
        contracts[label] = (cpa, prime)
    fields = {
        k: {
            "labels": [str(s).lower() for s in v.get("labels", [])],
            "uri_codes": [str(s).lower() for s in v.get("uri_codes", [])],
        }
        for k, v in (raw.get("fields") or {}).items()
    }
    return ContractLookup(
        contracts=contracts,
        groups=_group_map(raw, prog),
        fields=fields,
        databases=dict(raw.get("databases") or {}),
        programme=prog,
        demographics=demographics_from_config(raw.get("demographics"), source),
    )


def write_lookup(path: str | Path, programme=None, base: str | Path | None = None) -> Path:
    """Write an editable lookup file listing every contract label explicitly.

    Parameters
    ----------
    path : str or path
        Output YAML file.
    programme : Programme or path, optional
        Programme to seed the labels from (default: the packaged programme file).
    base : str or path, optional
        Lookup file whose formats and field definitions are copied (default: the packaged one).
    """
    lookup = load_lookup(base, programme)
    text = (
        resources.files("wpeval.config").joinpath("statxplore_contracts.yaml").read_text("utf-8")
        if base is None
        else Path(base).read_text("utf-8")
    )
    raw = yaml.safe_load(text)
    seen, entries = set(), []
    for label, (cpa, prime) in lookup.contracts.items():
        if (cpa, prime) not in seen:  # one label per contract: the first format's
            seen.add((cpa, prime))
            entries.append({"label": label, "cpa": cpa, "prime": prime})
    raw["contracts"] = entries
    raw["contract_label_formats"] = []
    path = Path(path)
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def programme_from_data(data, programme=None):
    """The programme whose contracts are those found in ``data`` (names are data).

    Payment groups, CPA names and numbers come from ``programme`` (default the packaged file);
    each CPA's primes are the ones the data hold (in the programme's order where it lists them,
    then alphabetically). Useful when synthetic data use other prime names than the programme
    file, e.g. to make the demo's published files from them.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data with ``cpa`` and ``prime`` columns.
    programme : Programme or str or path, optional
        Base programme (default :func:`wpeval.data.programme.load`).

    Returns
    -------
    wpeval.data.programme.Programme
    """
    base = programme if hasattr(programme, "cpas") else _programme.load(programme)
    pairs = data[["cpa", "prime"]].astype(str).drop_duplicates()
    cpas = {}
    for i, (cpa, grp) in enumerate(pairs.groupby("cpa", sort=True)):
        seen = set(grp["prime"])
        known = base.cpas.get(cpa, {})
        order = [p for p in known.get("primes", []) if p in seen]
        order += sorted(seen - set(order))
        cpas[cpa] = {
            "name": known.get("name", cpa),
            "number": known.get("number", i + 1),
            "primes": order,
        }
    return _programme.Programme(payment_groups=dict(base.payment_groups), cpas=cpas)
