"""Reconciliation: planted discrepancies are found, clean extracts are not flagged, and false
alarms occur at the stated rate over many simulated publications."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wpeval.data.io import read_referrals
from wpeval.exceptions import DataContractError
from wpeval.statxplore import (
    NoiseModel,
    demo_responses,
    flag_cells,
    load_lookup,
    monthly_tables,
    programme_from_data,
    read,
    reconcile,
    scale_cells,
    work_programme,
)
from wpeval.statxplore.reconcile import alpha_per_cell


def _truth(seed=5, months=12, n_cpa=20):
    """A contract x month referrals table at the programme's scale: 2m referrals over 40
    contracts and ~70 months is ~700 a contract-month; counts here are Poisson(U(50, 1500))."""
    rng = np.random.default_rng(seed)
    cpas = [f"Z{i:02d}" for i in range(n_cpa)]
    rows = [
        (m, c, p)
        for m in pd.period_range("2012-01", periods=months, freq="M")
        for c in cpas
        for p in ("First", "Second")
    ]
    frame = pd.DataFrame(rows, columns=["month", "cpa", "prime"])
    frame.insert(0, "table", "referrals")
    frame["value"] = rng.poisson(rng.uniform(50, 1500, len(frame))).astype(float)
    return frame


def _publish(truth, seed, noise=None):
    noise = noise or NoiseModel()
    return truth.assign(value=noise.apply(truth["value"].to_numpy(), seed).astype(float))


def test_planted_five_percent_discrepancy_is_found():
    truth = _truth()
    published = _publish(truth, seed=1)
    big = truth[truth["value"] >= 600].iloc[3]  # 5% of >= 600 is >= 30 referrals
    extract = scale_cells(truth, 1.05, cpa=big["cpa"], prime=big["prime"], month=big["month"])
    res = reconcile(extract, published)
    dis = res.disagreements()
    assert len(dis) == 1
    row = dis.iloc[0]
    assert (row["cpa"], row["prime"], row["month"]) == (big["cpa"], big["prime"], big["month"])
    assert row["rel_difference"] == pytest.approx(-0.05 / 1.05, abs=0.02)
    months = res.months()
    assert months.loc[months["disagreeing"] > 0, "month"].tolist() == [big["month"]]
    assert "1 disagree" in res.summary()


def test_clean_noisy_extract_finds_nothing():
    truth = _truth(seed=8)
    res = reconcile(truth, _publish(truth, seed=2))
    assert res.n_disagreeing == 0
    assert len(res.cells) == len(truth) and res.extract_only.empty
    assert 0 < res.tables["achieved_rate"].iloc[0] <= 0.05


def test_clean_synthetic_extract_through_the_json_files(tmp_path):
    from pathlib import Path

    data = read_referrals(
        Path(__file__).resolve().parents[2] / "data_synthetic" / "sample_10k.parquet"
    )
    # the sample's invented prime names: the label lookup is made from the data's contracts
    lookup = load_lookup(programme=programme_from_data(data))
    paths = demo_responses(data, tmp_path, seed=3, lookup=lookup)
    published = pd.concat(
        [work_programme(read(p), lookup=lookup) for p in paths], ignore_index=True
    )
    res = reconcile(monthly_tables(data, programme=lookup.programme), published)
    assert set(res.tables["table"]) == {
        "referrals",
        "attachments",
        "job_outcomes",
        "sustainments",
        "sustainment_individuals",
    }
    assert res.n_disagreeing == 0
    # the same files against an extract that lost every referral of its largest
    # contract x group x month cell (a 10,000-row sample's cells are small: losing only a
    # share of one would hide inside the noise tolerance, about 10 here)
    month = data["referral_date"].dt.to_period("M")
    keys = ["cpa", "prime", "payment_group"]
    sizes = data.groupby([*[data[k] for k in keys], month], observed=True).size()
    cell = sizes.idxmax()
    assert sizes.max() >= 15
    in_cell = np.logical_and.reduce([data[k] == v for k, v in zip(keys, cell)] + [month == cell[3]])
    broken = reconcile(monthly_tables(data[~in_cell], programme=lookup.programme), published)
    ref = broken.disagreements().query("table == 'referrals'")
    assert set(zip(ref["cpa"], ref["prime"], ref["payment_group"], ref["month"])) == {cell}


def test_false_alarms_at_the_stated_rate_over_2000_simulated_extracts():
    truth = _truth(seed=13)
    x = truth["value"].to_numpy()
    noise = NoiseModel()
    sims = noise.apply(x, rng=99, size=2000)  # 2000 publications x 480
    # per table: P(any false alarm) <= alpha, exactly 1 - prod(1 - tail)
    a_cell = alpha_per_cell(0.05, len(x), "table")
    out = flag_cells(x, sims, noise, a_cell)
    stated = -np.expm1(np.log1p(-out["tail"]).sum())
    assert 0.005 < stated <= 0.05
    alarms = int(out["flag"].any(axis=1).sum())
    assert stats.binomtest(alarms, 2000, stated).pvalue > 0.001
    assert alarms / 2000 <= 0.05
    # per cell: each cell's false-alarm probability is its exact tail (<= alpha)
    out = flag_cells(x, sims, noise, 0.05)
    expected = 2000 * out["tail"].sum()
    sd = np.sqrt(2000 * (out["tail"] * (1 - out["tail"])).sum())
    assert abs(out["flag"].sum() - expected) < 4 * sd and (out["tail"] <= 0.05).all()
    # 2000 different clean extracts (fresh counts each), each with its own publication: the
    # number of tables with a false alarm is a sum of Bernoulli(stated_s) draws
    rng = np.random.default_rng(7)
    xs = rng.poisson(rng.uniform(0, 1500, size=(2000, len(x))))
    out = flag_cells(xs, noise.apply(xs, rng=8), noise, a_cell)
    stated_s = -np.expm1(np.log1p(-out["tail"]).sum(axis=1))
    alarms = out["flag"].any(axis=1).sum()
    sd = np.sqrt((stated_s * (1 - stated_s)).sum())
    assert abs(alarms - stated_s.sum()) < 4 * sd and (stated_s <= 0.05).all()
    # reconcile() agrees with the vectorised core on one of the publications
    res = reconcile(truth, truth.assign(value=sims[7].astype(float)))
    flagged = flag_cells(x, sims[7], noise, a_cell)["flag"]
    assert res.n_disagreeing == int(flagged.sum())


def test_extract_only_cells_and_bad_inputs():
    truth = _truth(months=3, n_cpa=2)
    published = _publish(truth, seed=4)
    extra = truth.iloc[:1].assign(month=pd.Period("2015-01", "M"))
    res = reconcile(pd.concat([truth, extra]), published)
    assert len(res.extract_only) == 1 and res.n_disagreeing == 0
    with pytest.raises(DataContractError, match="duplicate cells"):
        reconcile(truth, pd.concat([published, published.iloc[:1]]))
    with pytest.raises(DataContractError, match=r"no \['prime'\] breakdown"):
        reconcile(truth.drop(columns="prime"), published)
    # a published cell the extract lacks counts as 0 in the extract and is flagged
    res = reconcile(truth.iloc[1:], published)
    assert res.n_disagreeing == 1 and res.disagreements()["extract"].iloc[0] == 0
    d = res.to_dict()
    assert d["n_disagreeing"] == 1 and d["method"]["noise"]["base"] == 5


def test_plot_marks_the_disagreeing_contract_month():
    from wpeval.plots.statxplore import plot_reconciliation

    truth = _truth(months=6, n_cpa=3)
    big = truth[truth["value"] >= 600].iloc[0]
    extract = scale_cells(truth, 1.05, cpa=big["cpa"], prime=big["prime"], month=big["month"])
    res = reconcile(extract, _publish(truth, seed=1))
    ax = plot_reconciliation(res)
    marks = next(ln for ln in ax.get_lines() if ln.get_marker() == "x")
    months = sorted(truth["month"].unique())
    contracts = sorted(set(truth["cpa"] + ": " + truth["prime"]))
    assert marks.get_xdata().tolist() == [months.index(big["month"])]
    assert marks.get_ydata().tolist() == [contracts.index(f"{big['cpa']}: {big['prime']}")]


def test_fictional_prime_names_are_data(tmp_path):
    """The same pipeline with every prime renamed: labels come from the data's contracts."""
    from pathlib import Path

    from wpeval.statxplore import load_lookup, programme_from_data, read_work_programme

    data = read_referrals(
        Path(__file__).resolve().parents[2] / "data_synthetic" / "sample_10k.parquet"
    )
    primes = sorted(data["prime"].astype(str).unique())
    rename = {p: f"Provider {chr(65 + i)}" for i, p in enumerate(primes)}
    data = data.assign(prime=data["prime"].astype(str).map(rename))
    lookup = load_lookup(programme=programme_from_data(data))
    assert all(p.startswith("Provider ") for _, p in lookup.programme.contracts)
    paths = demo_responses(
        data, tmp_path, lookup=lookup, seed=5, databases=["WP_Referrals", "WP_Job_Outcomes"]
    )
    doc = read(paths[0])
    assert any("Provider " in lab for lab in doc.iloc[:, 1].unique())
    res = reconcile(monthly_tables(data), read_work_programme(paths, lookup=lookup))
    assert res.n_disagreeing == 0 and len(res.cells) > 0
