"""Where independent work units run: in this process, in a local process pool, or on Dask.

:func:`make_executor` gives an executor whose :meth:`map` runs a module-level function over a
list of work units and returns the results **in unit order**. The caller fixes the units (e.g.
consecutive chunks of 20,000 orbits), never the number of workers, so a result assembled from
the unit results is the same, byte for byte, whatever the executor and the number of workers.

================  ============================================================================
``"serial"``      in this process, one unit after another (the default)
``"processes"``   a local pool of ``workers`` processes (``spawn``: no state inherited from the
                  parent, which may hold threads and SPICE kernels)
``"dask"``        ``dask.distributed``: the scheduler at ``scheduler`` (``tcp://host:8786``), or
                  a ``LocalCluster`` of ``workers`` single-threaded worker processes
================  ============================================================================

Faults: a unit whose worker dies is run again — Dask retries it on another worker (up to
``RETRIES`` times); the process pool, once broken, is replaced and the units without a result
are submitted again (``RETRIES`` times at most). Units must therefore be free of side effects
or commit them atomically.
"""

import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from ephemerides.errors import InputError

EXECUTORS = ("serial", "processes", "dask")
RETRIES = 2


class _Executor:
    """Context-manager protocol shared by the executors."""

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(_Executor):
    """Runs the units in this process, in order."""

    workers = 1

    def map(self, func, units) -> list:
        return [func(unit) for unit in units]


class ProcessExecutor(_Executor):
    """A local pool of ``workers`` processes (spawned)."""

    def __init__(self, workers: int):
        self.workers = int(workers)
        self._pool = None

    def _open(self):
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        return self._pool

    def map(self, func, units) -> list:
        # Each unit is submitted as soon as it is made: workers start while the caller still
        # makes the next ones (a generator of units overlaps the two).
        kept, futures = [], {}
        for k, unit in enumerate(units):
            kept.append(unit)
            try:
                futures[k] = self._open().submit(func, unit)
            except BrokenProcessPool:
                futures[k] = None  # a worker died meanwhile: run again below
        results = [None] * len(kept)
        for attempt in range(RETRIES + 1):
            failed = []
            for k, future in futures.items():
                try:
                    if future is None:
                        raise BrokenProcessPool
                    results[k] = future.result()
                except BrokenProcessPool:
                    failed.append(k)
            if not failed:
                return results
            # A worker died: the pool is unusable. Replace it and run the lost units again.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            if attempt == RETRIES:
                raise RuntimeError(f"{len(failed)} work unit(s) lost their worker "
                                   f"{RETRIES + 1} times; giving up")
            futures = {k: self._open().submit(func, kept[k]) for k in failed}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class DaskExecutor(_Executor):
    """``dask.distributed``: an existing scheduler, or a local cluster of worker processes."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("the dask executor needs the 'distributed' package "
                              "(pip install distributed)") from None
        self._cluster = None
        if scheduler:
            self._client = Client(scheduler)
        else:
            # The scheduler's HTTP server on a free port: with None it takes 8787 and warns
            # when another cluster (or a second night on the same machine) already has it.
            self._cluster = LocalCluster(n_workers=int(workers or os.cpu_count() or 1),
                                         threads_per_worker=1, processes=True,
                                         dashboard_address=":0")
            self._client = Client(self._cluster)
        self.workers = len(self._client.scheduler_info()["workers"])

    def map(self, func, units) -> list:
        import dask
        from distributed import as_completed

        # One task per unit, submitted as soon as it is made (see ProcessExecutor.map). A unit
        # carries its data (tens of MB: orbits, a part of the cache) by design; Dask's warning
        # about "large graphs" (over 10 MB) is for graphs of many small tasks.
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GB"}):
            futures = [self._client.submit(func, unit, pure=False, retries=RETRIES)
                       for unit in units]
        position = {future.key: k for k, future in enumerate(futures)}
        results = [None] * len(futures)
        # Gathered as they finish, and released, so that workers do not hold every result.
        for future in as_completed(futures):
            results[position[future.key]] = future.result()
            future.release()
        return results

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str = "serial", workers: int | None = None,
                  scheduler: str | None = None):
    """An executor of :data:`EXECUTORS` (module docstring); use it as a context manager.

    Parameters
    ----------
    kind : {"serial", "processes", "dask"}
    workers : int, optional
        Worker processes (default: the CPU count) for "processes" and a local Dask cluster.
    scheduler : str, optional
        Address of a running Dask scheduler; only with ``kind="dask"``.
    """
    if kind not in EXECUTORS:
        raise InputError(f"executor must be one of {', '.join(EXECUTORS)}; got {kind!r}")
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise InputError(f"workers must be an integer >= 1; got {workers!r}")
    if scheduler and kind != "dask":
        raise InputError(f"scheduler={scheduler!r} is a Dask scheduler's address; it needs the "
                         "Dask executor")
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers or os.cpu_count() or 1)
    return DaskExecutor(workers, scheduler)
