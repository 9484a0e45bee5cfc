"""Sites run as independent tasks on Dask (``dask.distributed``): a local cluster by
default, one worker process per CPU, or an existing cluster at a scheduler's address.

Each task runs one site's stages from its own inputs (for a portfolio: the files
``vigie split`` wrote for it), so a worker holds one site at a time, never the whole
export. A worker on another machine must see the same paths (a shared folder) and run
the same version of Vigie (README, « Plusieurs machines »).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from pipelines.errors import VigieError

log = logging.getLogger(__name__)

#: How long a scheduler's address may take to answer.
CONNECT_TIMEOUT_S = 5
#: Most worker processes of a local cluster per CPU (``--workers``): each holds a site;
#: `--workers 100000` started processes until the machine stalled.
MAX_WORKERS_PER_CPU = 4

#: The loggers of a local cluster's shutdown, silenced once every task is done (their
#: news is then no analyst's): a worker process slow to exit on a loaded machine is
#: killed by its nanny (« Worker process still alive after 4.0 seconds, killing », in
#: this process), and its last heartbeat may meet the scheduler already closed (a
#: ``CommClosedError`` traceback, in the worker's process). The results are complete by
#: then; an error of a task is raised before, with its traceback.
SHUTDOWN_LOGGERS = ("distributed.nanny", "distributed.worker", "distributed.core")


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: The protocols of a scheduler's address on a network, as ``distributed`` names its
#: backends (each address ``hôte:port``); ``inproc://`` (a cluster in this process, the
#: tests') is left to the handshake.
SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx")


def scheduler_address_problem(address: str) -> str | None:
    """What makes ``address`` no scheduler address at all, in French, or ``None``: a
    protocol Dask does not know, no host, no port or a port that is no number from 1 to
    65535. Read as Dask reads it (``hôte:port`` without a protocol is ``tcp://``)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    text = address.strip()
    if not text:
        return "adresse vide"
    scheme, location = parse_address(text, strict=False)
    if scheme == "inproc":
        return None
    if scheme not in SCHEDULER_PROTOCOLS:
        known = ", ".join(f"{p}://" for p in SCHEDULER_PROTOCOLS)
        return f"protocole « {scheme}:// » inconnu de Dask (connus : {known})"
    try:
        host, port = parse_host_port(location)
    except ValueError:
        return "attendu un hôte et un port (hôte:port)"
    if not host:
        return "aucun hôte avant le port"
    if not 1 <= port <= 65535:
        return f"port {port} hors de 1 à 65535"
    return None


def local_workers(workers: int | None, tasks: int | None) -> int:
    """The worker processes of a local cluster: ``workers`` (default: one per CPU,
    :func:`default_workers`), no more than ``tasks`` (each task is a site: a worker
    beyond them would start, hold its memory and wait idle).

    Raises
    ------
    VigieError
        ``workers`` is below 1, or beyond :data:`MAX_WORKERS_PER_CPU` per CPU.
    """
    cpus = default_workers()
    if workers is not None and workers < 1:
        raise VigieError("--workers : attendu un nombre de processus au moins égal à 1.")
    if workers is not None and workers > MAX_WORKERS_PER_CPU * cpus:
        raise VigieError(
            f"--workers {workers} : au plus {MAX_WORKERS_PER_CPU * cpus} processus "
            f"({MAX_WORKERS_PER_CPU} par processeur, {cpus} ici) ; chaque processus tient "
            "un site en mémoire, et les sites ne vont pas plus vite au-delà."
        )
    n = workers or cpus
    return max(1, min(n, tasks)) if tasks is not None else n


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int | None = None, *, tasks: int | None = None
) -> Iterator[Any]:
    """A ``distributed.Client``: on the scheduler at ``scheduler``, else on a local
    cluster of ``workers`` single-threaded worker processes (default: one per CPU), no
    more than ``tasks`` (the sites to run; :func:`local_workers`).

    Raises
    ------
    VigieError
        ``scheduler`` is no address (:func:`scheduler_address_problem`), or the
        scheduler does not answer (French message naming the address); ``workers`` out
        of bounds (:func:`local_workers`).
    """
    # Imported when a run starts: `vigie --help` and the stages never load distributed.
    from distributed import Client, LocalCluster

    # The cluster's own news (workers started, closed) is not the analyst's.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler is not None:
        problem = scheduler_address_problem(scheduler)
        if problem is not None:
            raise VigieError(
                f"--scheduler « {scheduler} » : ce n'est pas une adresse d'ordonnanceur Dask "
                f"({problem}) ; attendu tcp://hôte:8786, ou lancez sans --scheduler pour "
                "un calcul local."
            )
        scheduler = scheduler.strip()  # « tcp://a:8786 » pasted with a space
        try:
            asyncio.run(_handshake(scheduler))
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except TypeError as err:  # tls:// without its certificates, ucx:// without ucx-py
            raise VigieError(
                f"ordonnanceur Dask « {scheduler} » : protocole inutilisable ici : "
                "tls:// demande les certificats de la configuration Dask "
                "(distributed.comm.tls), ucx:// le paquet ucx-py ; sinon donnez une "
                "adresse tcp://hôte:8786, ou lancez sans --scheduler pour un calcul local."
            ) from err
        except (OSError, TimeoutError, ValueError, MemoryError) as err:
            raise VigieError(
                f"ordonnanceur Dask « {scheduler} » injoignable ou muet "
                f"({type(err).__name__}, {CONNECT_TIMEOUT_S} s au plus) : vérifiez l'adresse "
                "(tcp://hôte:8786) et que « dask scheduler » y tourne, "
                "ou lancez sans --scheduler pour un calcul local."
            ) from err
        with client:
            yield client
        return
    n = local_workers(workers, tasks)
    with ExitStack() as stack:
        # Unwound last to first: the client closed, then the cluster, then the loggers'
        # levels given back.
        levels = {name: logging.getLogger(name).level for name in SHUTDOWN_LOGGERS}
        stack.callback(_set_levels, levels)
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                # Port 0: a free port, never the 8787 another cluster (another run, a
                # notebook) may hold; the dashboard is not used, its server still starts.
                dashboard_address=":0",
            )
        )
        client = stack.enter_context(Client(cluster))
        try:
            yield client
        finally:
            quiet = dict.fromkeys(SHUTDOWN_LOGGERS, logging.CRITICAL)
            client.run(_set_levels, quiet, on_error="ignore")  # in the workers
            _set_levels(quiet)  # the nannies and the scheduler, here


def _set_levels(levels: dict[str, int]) -> None:
    """Give each named logger its level (a task of :func:`dask_client`'s shutdown)."""
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def _handshake(scheduler: str) -> None:
    """Connect to ``scheduler`` and read its handshake, all within
    :data:`CONNECT_TIMEOUT_S`: ``Client(timeout=...)`` bounds the connection only, then
    waits for the handshake without limit (a service that accepts the connection and
    says nothing held the run until it hung up; one that answers something else made
    dask read its bytes as a frame length, a ``MemoryError``).

    Raises
    ------
    OSError, TimeoutError, ValueError, MemoryError
        No Dask scheduler answered in time at ``scheduler``.
    TypeError
        Its protocol cannot be used here (``tls://`` without certificates, ``ucx://``
        without ucx-py).
    """
    from distributed import Security
    from distributed.comm import connect

    # The client's connection arguments, as Client gives them (a TLS scheduler's
    # certificates, from the Dask configuration).
    args = Security().get_connection_args("client")
    comm = await asyncio.wait_for(
        connect(scheduler, timeout=CONNECT_TIMEOUT_S, **args), timeout=CONNECT_TIMEOUT_S
    )
    await comm.close()


def run_tasks(
    client: Any,
    task: Callable[..., str | None],
    site_ids: Sequence[str],
    *args: Any,
    on_done: Callable[[str], None] | None = None,
) -> None:
    """Run ``task(site_id, *args)`` for every site on ``client``'s workers.

    ``task`` returns ``None``, or the French message of a user error (returned, not
    raised: the report lists the messages). A site's user error does not stop the
    others: every site runs, then the errors are reported together.
    A programming error stops the run at once, with its traceback.

    Raises
    ------
    VigieError
        One site's task or more reported a user error (each named).
    """
    from distributed import as_completed

    futures = {
        client.submit(task, sid, *args, key=f"vigie-site-{sid}", pure=False): sid
        for sid in site_ids
    }
    problems: dict[str, str] = {}
    for future in as_completed(list(futures)):
        sid = futures[future]
        problem = future.result()  # a programming error re-raises here
        if problem is None:
            log.info("site %s : terminé", sid)
        else:
            log.warning("site %s : %s", sid, problem)
            problems[sid] = problem
        if on_done is not None:
            on_done(sid)
    if problems:
        listed = " ; ".join(
            f"site « {sid} » : {problems[sid]}" for sid in site_ids if sid in problems
        )
        done = len(site_ids) - len(problems)
        raise VigieError(
            f"{len(problems)} site(s) en erreur sur {len(site_ids)} ({done} traité(s)) : {listed}"
        )
