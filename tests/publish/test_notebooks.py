"""Every notebooks/*.ipynb runs with notebooks/params/smoke.yaml and writes a sane results.json.

All notebooks run once per session (two at a time); each notebook then has its own test.
Notebook authors add the result keys their notebook must record to EXPECTED_KEYS.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wpeval.publish import run as run_mod

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[!.]*.ipynb"))
SMOKE = ROOT / "notebooks" / "params" / "smoke.yaml"

#: notebook name -> keys its results.json["results"] must hold (added by each notebook's author)
EXPECTED_KEYS: dict[str, list[str]] = {
    "01_data_checks": ["checks", "rows_in", "rows_kept", "allocation_p_overall",
                       "max_abs_smd_adjusted", "covariate_balance"],
    "02_prime_comparison": ["contrasts", "n_contrasts", "n_significant_adjusted",
                            "n_missing_outcome", "randomisation_test",
                            "randomisation_p_value", "regression_contrasts",
                            "max_abs_adjusted_minus_design"],
    "03_job_entry": ["logrank_prime_chisq", "cif_job_entry_52w", "cox_primes_cpa",
                     "km_prime_within_cpa", "rmst_104w"],
    "04_job_retention": ["in_work_13w", "in_work_26w", "km_all", "cox_payment_groups"],
    "05_payment_groups": ["group_rates", "interaction_tests", "prime_effects",
                          "creaming_and_parking", "n_cpa_tested", "logit_ame",
                          "binary_sensitivity"],
    "06_report_tables": ["rate_24m_by_group", "rate_24m_jsa_18_24", "rate_24m_jsa_25_plus",
                         "rate_24m_esa_new", "rate_24m_Total", "rate_12m_by_cohort", "mpl",
                         "payments_by_contract", "total_paid"],
    "07_league_tables": [],
    "08_design_diagnosis": ["mde", "diagnosis", "summary", "n_contrasts", "mde_min", "mde_max",
                            "coverage_by_estimator"],
    "09_value_for_money": ["synthetic_data", "total_paid", "paid_per_job_outcome",
                           "cost_by_group", "cost_by_contract", "deadweight", "sensitivity",
                           "icer", "n_pairs_bounded", "projected_sustainment_amount",
                           "headlines"],
    "10_official_statistics": ["published_tables", "n_published_cells", "reconciliation_tables",
                               "n_disagreeing", "n_disagreeing_broken", "broken_disagreements",
                               "flow_rates", "flow_funnel_dispersion"],
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("notebook_outputs")
    cwd = os.getcwd()
    os.chdir(ROOT)   # parameter files hold paths relative to the project folder
    try:
        results = run_mod.run([str(ROOT / "notebooks" / f"{n}.ipynb") for n in NOTEBOOKS],
                              params_file=SMOKE, out=out, n_jobs=2, progress=False)
    finally:
        os.chdir(cwd)
    return {r.notebook: r for r in results}


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
    scalars = {k: v for k, v in doc["results"].items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert scalars, f"{name} records no key figure (rep.record(name, number))"
    missing = [k for k in EXPECTED_KEYS.get(name, []) if k not in doc["results"]]
    assert not missing, f"{name}: results.json lacks {missing}"
    html = (run_dir / f"{name}.html").read_text()
    assert "Provenance" in html and "Report.start" not in html
