"""Every notebooks/*.ipynb runs with notebooks/params/smoke.yaml and writes a sane results.json.

All notebooks run once per session (two at a time); each notebook then has its own test.
Notebook authors add the result keys their notebook must record to EXPECTED_KEYS.
"""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[!.]*.ipynb"))
SMOKE = ROOT / "notebooks" / "params" / "smoke.yaml"

#: notebook name -> keys its results.json["results"] must hold (added by each notebook's author)
EXPECTED_KEYS: dict[str, list[str]] = {
    "01_data_checks": [
        "checks",
        "rows_in",
        "rows_kept",
        "allocation_p_overall",
        "max_abs_smd_adjusted",
        "covariate_balance",
    ],
    "02_prime_comparison": [
        "contrasts",
        "n_contrasts",
        "n_significant_adjusted",
        "n_missing_outcome",
        "randomisation_test",
        "randomisation_p_value",
        "regression_contrasts",
        "max_abs_adjusted_minus_design",
    ],
    "03_job_entry": [
        "logrank_prime_chisq",
        "cif_job_entry_52w",
        "cox_primes_cpa",
        "km_prime_within_cpa",
        "rmst_104w",
        "ph_global_p",
        "adjusted_curves_cpa",
        "blocked_survival_contrasts",
        "blocked_survival_cpa",
        "blocked_curves_cpa",
        "hazard_ratio_beside_blocked",
    ],
    "04_job_retention": [
        "in_work_13w",
        "in_work_26w",
        "km_all",
        "cox_payment_groups",
        "ph_global_p",
        "adjusted_curves_cpa",
        "blocked_curves_cpa",
        "blocked_retention_contrasts",
        "aft_aic_payment_groups",
        "projected_retention_payment_group",
        "projected_retention_prime",
        "aft_distribution",
    ],
    "05_payment_groups": [
        "group_rates",
        "interaction_tests",
        "prime_effects",
        "creaming_and_parking",
        "n_cpa_tested",
        "logit_ame",
        "binary_sensitivity",
    ],
    "06_report_tables": [
        "rate_24m_by_group",
        "rate_24m_jsa_18_24",
        "rate_24m_jsa_25_plus",
        "rate_24m_esa_new",
        "rate_24m_Total",
        "rate_12m_by_cohort",
        "mpl",
        "payments_by_contract",
        "total_paid",
    ],
    "07_league_tables": [],
    "08_design_diagnosis": [
        "mde",
        "diagnosis",
        "summary",
        "n_contrasts",
        "mde_min",
        "mde_max",
        "coverage_by_estimator",
    ],
    "09_value_for_money": [
        "synthetic_data",
        "total_paid",
        "paid_per_job_outcome",
        "cost_by_group",
        "cost_by_contract",
        "deadweight",
        "sensitivity",
        "icer",
        "n_pairs_bounded",
        "projected_sustainment_amount",
        "estimate_rows_suppressed",
        "headlines",
    ],
    "10_official_statistics": [
        "published_tables",
        "n_published_cells",
        "reconciliation_tables",
        "n_disagreeing",
        "n_disagreeing_broken",
        "broken_disagreements",
        "reconciliation_by_characteristic",
        "n_disagreeing_by_characteristic",
        "unknown_characteristic_counts",
        "flow_rates",
        "flow_funnel_dispersion",
    ],
}

pytestmark = pytest.mark.slow


def test_there_are_notebooks_to_test():
    assert NOTEBOOKS, "no notebooks/*.ipynb found"
    unknown = sorted(set(EXPECTED_KEYS) - set(NOTEBOOKS))
    assert not unknown, f"EXPECTED_KEYS names notebooks that do not exist: {unknown}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_with_smoke_parameters(name, smoke_run):
    res = smoke_run[name]
    assert res.status == "ok", f"{name} failed: {res.error}"
    run_dir = Path(res.run_dir)
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["notebook"] == name
    prov = doc["provenance"]
    assert prov["package_version"] and prov["git_commit"]
    if "data_path" in prov["parameters"]:
        assert prov["data"] and len(prov["data"]["fingerprint"]) == 64
        assert prov["data"]["rows_read"] > 0
    scalars = {
        k: v
        for k, v in doc["results"].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    assert scalars, f"{name} records no key figure (rep.record(name, number))"
    missing = [k for k in EXPECTED_KEYS.get(name, []) if k not in doc["results"]]
    assert not missing, f"{name}: results.json lacks {missing}"
    html = (run_dir / f"{name}.html").read_text()
    assert "Provenance" in html and "Report.start" not in html


# ------------------------------------------------------------- synthetic data, findings, files
def real_prime_names() -> set[str]:
    """Every prime of wpeval/config/programme.yaml, read with yaml (not with wpeval)."""
    import yaml

    text = (ROOT / "wpeval" / "config" / "programme.yaml").read_text(encoding="utf-8")
    return {str(p) for c in yaml.safe_load(text)["cpas"] for p in c["primes"]}


def test_no_real_provider_in_any_report(smoke_out):
    """The committed sample is generated data: no report names a real provider."""
    import re

    real = real_prime_names()
    assert len(real) >= 15
    files = [p for p in smoke_out.rglob("*") if p.suffix in (".html", ".json", ".csv", ".svg")]
    assert len(files) > 40
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in real:  # whole words: "EOS" must not match inside another word
            assert not re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", text), (
                f"{name!r} in {path.relative_to(smoke_out)}"
            )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_report_is_marked_synthetic_with_findings_and_downloads(name, smoke_run):
    run_dir = Path(smoke_run[name].run_dir)
    html = (run_dir / f"{name}.html").read_text(encoding="utf-8")
    assert "<title>SYNTHETIC DATA" in html
    assert html.index("wpeval-synthetic") < html.index("<h1") if "<h1" in html else True
    assert "<script src=" not in html and "cdnjs" not in html and "mathjax" not in html.lower()
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["synthetic"] is True
    assert 2 <= len(doc["findings"]) <= 5
    for sentence in doc["findings"]:
        assert sentence.endswith(".") and sentence in unescape(html)
    dl = run_dir / "downloads"
    for t in doc["downloads"]["tables"]:
        assert (run_dir / t["csv"]).is_file() and f'href="{t["csv"]}"' in html
    for ext in ("ods", "xlsx", "pdf"):
        assert (dl / f"{name}.{ext}").is_file(), ext
        assert f"downloads/{name}.{ext}" in html
    for fig in doc["figures"]:
        assert (run_dir / fig["png"]).is_file() and (run_dir / fig["svg"]).is_file()


def test_spreadsheet_follows_the_release_layout(smoke_run):
    """Cover sheet, contents, notes, then one table per sheet with its title in A1."""
    import openpyxl

    run_dir = Path(smoke_run["06_report_tables"].run_dir)
    doc = json.loads((run_dir / "results.json").read_text())
    wb = openpyxl.load_workbook(run_dir / "downloads" / "06_report_tables.xlsx")
    from wpeval.publish.downloads import SHEET_MAX_ROWS

    tables = [
        t
        for t in doc["downloads"]["tables"]  # long tables are in CSV only
        if len((run_dir / t["csv"]).read_text().splitlines()) - 1 <= SHEET_MAX_ROWS
    ]
    assert wb.sheetnames == ["Cover_sheet", "Contents", "Notes"] + [
        f"Table_{i + 1}" for i in range(len(tables))
    ]
    assert wb["Cover_sheet"]["A1"].value.startswith("SYNTHETIC DATA")
    assert wb["Table_1"]["A1"].value.startswith(tables[0]["caption"])
    assert wb["Table_1"]["A2"].value.startswith("This worksheet contains one table")
    import pandas as pd

    ods = pd.read_excel(
        run_dir / "downloads" / "06_report_tables.ods", sheet_name=None, engine="odf", header=None
    )
    assert list(ods) == wb.sheetnames
    csv = pd.read_csv(run_dir / tables[0]["csv"])
    sheet = pd.read_excel(
        run_dir / "downloads" / "06_report_tables.xlsx", sheet_name="Table_1", skiprows=2
    )
    assert list(sheet.columns) == list(csv.columns) and len(sheet) == len(csv)


def test_index_shows_banner_findings_and_thumbnails(smoke_out, smoke_run):
    text = (smoke_out / "index.html").read_text(encoding="utf-8")
    assert text.count("wpeval-tag-synthetic") >= len(smoke_run)
    for res in smoke_run.values():
        doc = json.loads((Path(res.run_dir) / "results.json").read_text())
        main = next(f for f in doc["figures"] if f.get("main")) if doc["figures"] else None
        if main:
            rel = f"{Path(res.run_dir).name}/{main['png']}"
            assert f'src="{rel}"' in text
    assert "allocation_pearson_p_overall" not in text  # raw keys are labelled or humanised
