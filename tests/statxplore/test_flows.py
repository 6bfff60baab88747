"""Flow rates worked by hand, and drawn with the existing funnel plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wpeval.estimators.ranking import funnel_limits
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.plots.ranking import plot_funnel
from wpeval.statxplore import NoiseModel, flow_rates

EXACT = NoiseModel(scale=0, base=1)  # exact counts: no noise variance


def _flows():
    """Two CPAs, three contracts. Referrals 2012-01..2012-03 and job outcomes 2013-01..03
    (lag 12 months): contract K1/A 100+100+100 referrals and 10+20+30 outcomes, etc."""
    rows = []
    refs = {("K1", "A"): 100, ("K1", "B"): 200, ("K2", "C"): 50}
    outs = {("K1", "A"): (10, 20, 30), ("K1", "B"): (40, 40, 40), ("K2", "C"): (5, 5, 5)}
    for _i, m in enumerate(["2012-01", "2012-02", "2012-03"]):
        for (c, p), n in refs.items():
            rows.append(("referrals", m, c, p, "g", float(n)))
    for i, m in enumerate(["2013-01", "2013-02", "2013-03"]):
        for (c, p), o in outs.items():
            rows.append(("job_outcomes", m, c, p, "g", float(o[i])))
    # noise outside both windows must be ignored
    rows.append(("job_outcomes", "2012-12", "K1", "A", "g", 999.0))
    rows.append(("referrals", "2011-12", "K1", "A", "g", 999.0))
    frame = pd.DataFrame(rows, columns=["table", "month", "cpa", "prime", "payment_group", "value"])
    frame["month"] = pd.PeriodIndex(frame["month"], freq="M")
    return frame


def test_flow_rates_by_hand():
    res = flow_rates(
        _flows(), outcome_start="2013-01", outcome_end="2013-03", lag_months=12, noise=EXACT
    )
    tab = res.tidy().set_index("term")
    # K1: A 60/300 = 0.2, B 120/600 = 0.2; K2: C 15/150 = 0.1
    assert tab.loc["K1: A", "estimate"] == pytest.approx(0.2)
    assert tab.loc["K2: C", "estimate"] == pytest.approx(0.1)
    assert tab.loc["K1: A", "n"] == 300 and tab.loc["K1: A", "events"] == 60
    # SE = sqrt(O) / R with no noise: sqrt(60)/300
    assert tab.loc["K1: A", "std_error"] == pytest.approx(np.sqrt(60) / 300)
    z = stats.norm.isf(0.025)
    assert tab.loc["K1: A", "conf_low"] == pytest.approx(0.2 - z * np.sqrt(60) / 300)
    # CPA target: K1 pooled (60 + 120) / 900 = 0.2; K2 0.1
    assert tab.loc["K1: B", "target"] == pytest.approx(0.2)
    lo, _ = funnel_limits(0.2, 300, 0.95)
    assert tab.loc["K1: A", "lower_95"] == pytest.approx(lo)
    assert tab.loc["K1: A", "flag"] == ""
    assert "descriptive" in res.method["design"] and "not cohorts" in res.method["notes"]
    assert res.method["reference_period"] == "2012-01 to 2012-03"


def test_noise_widens_the_interval():
    flows = _flows()
    noise = NoiseModel()
    res = flow_rates(flows, outcome_start="2013-01", outcome_end="2013-03", noise=noise)
    row = res.tidy().set_index("term").loc["K1: A"]
    # 3 outcome cells (10, 20, 30) and 3 referral cells (100 each), noise variance per cell
    v_o = noise.variance([10, 20, 30]).sum()
    v_r = noise.variance([100, 100, 100]).sum()
    assert row["std_error"] == pytest.approx(np.sqrt(60 + v_o + 0.04 * v_r) / 300)


def test_funnel_plot_draws_flow_rates():
    res = flow_rates(
        _flows(), outcome_start="2013-01", outcome_end="2013-03", noise=EXACT, target="national"
    )
    ax = plot_funnel(res)
    assert ax.get_xlabel().startswith("referrals")


def test_bad_inputs():
    flows = _flows()
    with pytest.raises(DataContractError, match="'referrals'"):
        flow_rates(
            flows[flows["table"] != "referrals"], outcome_start="2013-01", outcome_end="2013-03"
        )
    with pytest.raises(ParameterError, match="before"):
        flow_rates(flows, outcome_start="2013-03", outcome_end="2013-01")
    with pytest.raises(ParameterError, match="cpa"):
        flow_rates(flows, outcome_start="2013-01", outcome_end="2013-03", by=["payment_group"])
