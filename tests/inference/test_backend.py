"""The execution backend (wpeval.inference.backend): same results, same order, serial or Dask."""

from __future__ import annotations

import numpy as np
import pytest

from wpeval.exceptions import ParameterError
from wpeval.inference import backend


def _draw(common, ss):
    """A task: common offset plus a draw from the task's own seed."""
    return common["offset"] + float(np.random.default_rng(ss).normal())


def test_serial_and_dask_agree_in_order():
    seeds = np.random.SeedSequence(7).spawn(6)
    serial = backend.map_tasks(_draw, {"offset": 10.0}, seeds, progress=False)
    # by hand: the serial path is the plain loop
    assert serial == [10.0 + float(np.random.default_rng(s).normal()) for s in seeds]
    with backend.dask_client(n_workers=2, processes=False) as client:
        on_dask = backend.map_tasks(_draw, {"offset": 10.0}, seeds, backend=client, progress=False)
    assert on_dask == serial


def test_backend_choice(monkeypatch):
    monkeypatch.delenv(backend.SCHEDULER_ENV, raising=False)
    assert backend.resolve_backend(None) == "serial"
    assert backend.resolve_backend(None, "tcp://somewhere:8786") == "dask"
    monkeypatch.setenv(backend.SCHEDULER_ENV, "tcp://somewhere:8786")
    assert backend.resolve_backend(None) == "dask"
    with pytest.raises(ParameterError):
        backend.resolve_backend("threads")


def test_randomisation_batches_do_not_depend_on_the_backend():
    import pandas as pd

    from wpeval.inference.randomisation import randomisation_test

    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {"y": rng.normal(size=400), "z": np.tile([0, 1], 200), "b": np.repeat(np.arange(4), 100)}
    )
    kw = {"blocks": "b", "draws": 203, "seed": 11, "batches": 4, "ci": False}
    serial = randomisation_test(df, "y", "z", **kw)
    with backend.dask_client(n_workers=2, processes=False) as client:
        on_dask = randomisation_test(df, "y", "z", backend=client, **kw)
    np.testing.assert_array_equal(serial.extra["null_stats"], on_dask.extra["null_stats"])
    assert serial.extra["draws"] == 203 and "4 batches" in serial.extra["sampler"]
    # the batched null distribution is a randomisation distribution like the single stream:
    # same mean 0 and the same spread within Monte Carlo error (SD of the DiM under the null)
    single = randomisation_test(df, "y", "z", blocks="b", draws=2000, seed=1, ci=False)
    assert abs(serial.tidy()["std_error"][0] / single.tidy()["std_error"][0] - 1) < 0.15
