"""Where the work runs: in this process, or on a ``dask.distributed`` cluster.

One function, :func:`map_tasks`, runs ``fn(common, item)`` for every item and returns the
results in the order of the items, whichever backend runs them:

- ``"serial"``: a loop in this process;
- ``"dask"``: one task per item on a ``dask.distributed`` client. Without an address a
  ``LocalCluster`` is started on this machine's cores (one single-threaded worker process per
  core, so numpy's own threads do not oversubscribe them); with ``scheduler=
  "tcp://host:8786"`` or the environment variable :data:`SCHEDULER_ENV` the same tasks go
  unchanged to an existing cluster (``dask-jobqueue``, ``dask-kubernetes``, a Dask Gateway:
  see ``docs/scaling.md``). ``common`` is sent to the workers once (``client.scatter``,
  broadcast) and each task receives it with its own item.

Results never depend on the backend or on the number of workers as long as ``fn`` is a pure
function of ``(common, item)``: the design diagnosis passes the generator configuration as
``common`` and one ``numpy.random.SeedSequence`` per replication as the items, spawned
before anything is scheduled. A tqdm progress bar counts finished tasks in both backends.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from wpeval.exceptions import ParameterError

__all__ = ["BACKENDS", "SCHEDULER_ENV", "dask_client", "map_tasks", "resolve_backend"]

BACKENDS = ("serial", "dask")
#: environment variable holding the address of an existing Dask scheduler
SCHEDULER_ENV = "WPEVAL_DASK_SCHEDULER"


def resolve_backend(backend: str | None, scheduler: str | None = None) -> str:
    """``backend`` checked; ``None`` means dask when a scheduler address is known, else
    serial."""
    if backend is None:
        return "dask" if (scheduler or os.environ.get(SCHEDULER_ENV)) else "serial"
    if backend not in BACKENDS and not _is_client(backend):
        raise ParameterError(
            f"backend must be one of {BACKENDS} or a distributed.Client, not {backend!r}"
        )
    return backend


def _is_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and hasattr(obj, "submit")


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    memory_limit: str | None = "auto",
) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` (or ``$WPEVAL_DASK_SCHEDULER``) if given,
    else to a new ``LocalCluster`` of ``n_workers`` single-threaded workers (default: one per
    core), closed on exit.

    Parameters
    ----------
    scheduler : str, optional
        Address of an existing scheduler, e.g. ``"tcp://host:8786"``.
    n_workers : int, optional
        Workers of the local cluster (ignored with a scheduler address).
    processes : bool, default True
        Local workers as processes (True) or threads of this process (False: cheap start,
        for tests and tiny jobs; numpy releases the GIL in its loops).
    memory_limit : str, optional
        Per-worker memory limit of the local cluster (dask's ``"auto"``: RAM / workers).
    """
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get(SCHEDULER_ENV)
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    n = int(n_workers or os.cpu_count() or 1)
    if n < 1:
        raise ParameterError(f"n_workers must be at least 1, got {n_workers!r}")
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=":0",
            memory_limit=memory_limit,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="task", disable=not progress, leave=False)


def map_tasks(
    fn: Callable[[Any, Any], Any],
    common: Any,
    items: Sequence[Any],
    *,
    backend: Any = "serial",
    scheduler: str | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    progress: bool = True,
    desc: str = "tasks",
) -> list:
    """Run ``fn(common, item)`` for every item; results in the order of ``items``.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled to the workers).
    common : object
        Shared by every task (sent once to each worker with the dask backend).
    items : sequence
        One task per item (e.g. one SeedSequence per replication).
    backend : {"serial", "dask"} or distributed.Client, default "serial"
        Where to run; a Client runs on that client's cluster as it is.
    scheduler : str, optional
        Scheduler address for ``"dask"`` (default ``$WPEVAL_DASK_SCHEDULER``, else a
        LocalCluster).
    n_workers : int, optional
        Local cluster size (default: the machine's cores).
    processes : bool, default True
        Local workers as processes (False: threads).
    progress : bool, default True
        Show a tqdm bar of finished tasks.
    desc : str
        Label of the bar.

    Returns
    -------
    list
        ``[fn(common, item) for item in items]``.
    """
    backend = resolve_backend(backend, scheduler)
    items = list(items)
    if backend == "serial":
        out = []
        with _bar(len(items), desc, progress) as bar:
            for it in items:
                out.append(fn(common, it))
                bar.update()
        return out
    if _is_client(backend):
        return _run_on(backend, fn, common, items, progress, desc)
    with dask_client(scheduler, n_workers, processes) as client:
        return _run_on(client, fn, common, items, progress, desc)


def _run_on(client, fn, common, items, progress, desc) -> list:
    from distributed import as_completed

    shared = client.scatter([common], broadcast=True)[0]  # a list: a dict would be split
    futures = client.map(fn, [shared] * len(items), items, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    out: list = [None] * len(items)
    try:
        with _bar(len(items), desc, progress) as bar:
            for fut in as_completed(futures):
                out[index[fut.key]] = fut.result()
                fut.release()
                bar.update()
    finally:
        client.cancel(futures)
    return out
