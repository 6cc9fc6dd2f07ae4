"""Where sweep cells run: in-process, a local process pool, Dask or Ray.

Every executor is a context manager with one method, ``imap_unordered(fn, tasks)``: it runs
``fn(*args)`` for every ``(key, args)`` in ``tasks`` and yields ``(key, result)`` as cells
finish, in completion order. The caller (the sweep driver) is the only process that writes
files; workers only compute, so a cluster needs no shared filesystem.

* ``serial`` — in the calling process (debugging, tests).
* ``local`` — :class:`concurrent.futures.ProcessPoolExecutor` started with ``forkserver``
  (``spawn`` where that is missing): never ``fork``, which copies a threaded parent. The
  fork server imports :mod:`bayes_w2s.harness.sweeps` (numpy, scipy, pandas) once and forks each
  worker from it, so ``n`` workers start about as fast as one. Each worker exits when the
  driver dies (a watchdog thread waits on the driver's sentinel), so a SIGKILLed sweep
  leaves no orphans.
* ``dask`` — ``distributed.Client`` to ``address``, or to a ``LocalCluster`` of ``workers``
  single-threaded processes (extra ``bayes-w2s[distributed]``).
* ``ray`` — ``ray.init(address)`` or a local Ray with ``workers`` CPUs (extra ``bayes-w2s[ray]``).

Workers of ``local`` get one BLAS/OpenMP thread each unless ``OMP_NUM_THREADS`` and friends
are already set (Dask and Ray do the same for their workers): ``n`` workers times the default
of one BLAS thread per core oversubscribes the machine and can be many times slower. (The
fork server is started once per driver process, by its first local pool, and keeps the
setting it was started with.)

If a cell raises, pending cells are cancelled and :class:`CellError` names the failing key;
finished cells were already handed to the caller.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["EXECUTORS", "CellError", "make_executor"]

EXECUTORS = ("local", "serial", "dask", "ray")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

Task = tuple[Any, tuple]


class CellError(RuntimeError):
    """A cell raised in a worker; ``key`` identifies it, the cause is chained."""

    def __init__(self, key: Any, cause: BaseException):
        super().__init__(f"cell {key} failed: {type(cause).__name__}: {cause}")
        self.key = key


def _missing_extra(backend: str, module: str, extra: str) -> ImportError:
    return ImportError(
        f"the {backend} executor needs the {module!r} package: pip install 'bayes-w2s[{extra}]'"
    )


class SerialExecutor:
    """Run cells one after another in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap_unordered(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:
        for key, args in tasks:
            try:
                result = fn(*args)
            except Exception as err:
                raise CellError(key, err) from err
            yield key, result


def _watch_parent() -> None:
    """Worker initializer: exit as soon as the driver process is gone (e.g. SIGKILLed).

    ``multiprocessing.parent_process()`` is the driver that asked for the worker (also under
    ``forkserver``, where the OS parent is the fork server, which outlives a killed driver
    while its children run); its sentinel is a pipe the driver holds open for its lifetime.
    """
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - not started by multiprocessing
        return

    def watch():
        parent.join()  # returns once the driver's end of the pipe is closed
        os._exit(1)

    threading.Thread(target=watch, name="driver-watchdog", daemon=True).start()


@contextlib.contextmanager
def _single_thread_env():
    """Set the BLAS/OpenMP thread variables to 1 where unset, for children spawned meanwhile."""
    added = [name for name in THREAD_ENV if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


class LocalExecutor:
    """A pool of ``workers`` processes on this machine."""

    def __init__(self, workers: int, preload: tuple[str, ...] = ()):
        self.workers, self.preload = workers, preload
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._stack.enter_context(_single_thread_env())
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["bayes_w2s.harness.sweeps", *self.preload])
        else:  # pragma: no cover - Windows
            context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=_watch_parent
        )
        self._stack.callback(self.pool.shutdown, wait=True, cancel_futures=True)
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False

    def imap_unordered(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:
        from concurrent.futures import as_completed

        futures = {self.pool.submit(fn, *args): key for key, args in tasks}
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as err:
                    raise CellError(futures[future], err) from err
                yield futures[future], result
        finally:
            for future in futures:
                future.cancel()


class DaskExecutor:
    """A ``distributed`` client: to ``address``, or to a LocalCluster of ``workers`` processes."""

    def __init__(self, workers: int, address: str | None = None):
        try:
            import distributed
        except ImportError:
            raise _missing_extra("dask", "distributed", "distributed") from None
        self.distributed = distributed
        self.workers, self.address = workers, address
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        d = self.distributed
        if self.address is None:
            cluster = self._stack.enter_context(
                d.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            self.client = self._stack.enter_context(d.Client(cluster))
        else:
            self.client = self._stack.enter_context(d.Client(self.address))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False

    def imap_unordered(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:
        futures = {}
        for key, args in tasks:
            futures[self.client.submit(fn, *args, pure=False, key=f"cell-{key}")] = key
        try:
            for future in self.distributed.as_completed(futures):
                try:
                    result = future.result()
                except Exception as err:
                    raise CellError(futures[future], err) from err
                yield futures[future], result
                future.release()
        finally:
            self.client.cancel(list(futures))


class RayExecutor:
    """Ray tasks: ``ray.init(address)``, or a local Ray runtime with ``workers`` CPUs."""

    def __init__(self, workers: int, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise _missing_extra("ray", "ray", "ray") from None
        self.ray = ray
        self.workers, self.address = workers, address

    def __enter__(self):
        self._owns = not self.ray.is_initialized()
        if self._owns:
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.workers}
            self.ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        return self

    def __exit__(self, *exc):
        if self._owns:
            self.ray.shutdown()
        return False

    def imap_unordered(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:
        remote = self.ray.remote(num_cpus=1)(fn)
        pending = {remote.remote(*args): key for key, args in tasks}
        try:
            while pending:
                done, _ = self.ray.wait(list(pending), num_returns=1)
                key = pending.pop(done[0])
                try:
                    result = self.ray.get(done[0])
                except Exception as err:
                    raise CellError(key, getattr(err, "cause", None) or err) from err
                yield key, result
        finally:
            for ref in pending:
                self.ray.cancel(ref, force=True)


def make_executor(
    name: str, workers: int | None = None, address: str | None = None, preload: tuple[str, ...] = ()
):
    """The executor ``name`` (one of :data:`EXECUTORS`), not yet entered.

    Parameters
    ----------
    name : str
        ``"local"``, ``"serial"``, ``"dask"`` or ``"ray"``.
    workers : int, optional
        Processes for ``local`` and for a local Dask/Ray cluster; default ``os.cpu_count()``.
    address : str, optional
        Scheduler (Dask, ``tcp://host:8786``) or cluster (Ray, ``ray://host:10001`` or
        ``auto``) address; only for ``dask`` and ``ray``.
    preload : tuple of str
        Modules the ``local`` fork server imports before forking workers (e.g. the
        experiment), besides :mod:`bayes_w2s.harness.sweeps`.

    Raises
    ------
    ValueError
        Unknown name, ``workers < 1``, or an address for ``local``/``serial``.
    ImportError
        The backend's extra is not installed (the message names it).
    """
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if address is not None and name in ("local", "serial"):
        raise ValueError(f"--address is for the dask and ray executors, not {name!r}")
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers, tuple(preload))
    if name == "dask":
        return DaskExecutor(workers, address)
    return RayExecutor(workers, address)
