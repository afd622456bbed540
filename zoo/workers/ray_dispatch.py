"""Measure on every selected node of a Ray cluster, into one shared PostgreSQL store.

Why each selected node and never "any free node": the hardware differs, and that is the point.
The dispatcher queues one job per (model, node), the node's name as its ``target``; Ray pins one
actor to each node (``NodeAffinitySchedulingStrategy(soft=False)``), which runs that node's jobs
as the store's worker would (``zoo.workers.worker.run_job``). The checks made before anything is
queued are in ``zoo.workers.ray_nodes``; Ray is imported only when a cluster is used.
Costs, failures and retries: docs/scale-out.md, 'Measuring on every node (Ray)'.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zoo.errors import ZooError
from zoo.models.spec import ModelSpec
from zoo.records.environment import NODE_ENV, default_threads
from zoo.records.protocol import Protocol
from zoo.store.jobs import Job, cancel, get_job, submit, worker_id
from zoo.store.leases import LEASE_S, claim, fail_jobs
from zoo.store.measurement_store import MeasurementStore
from zoo.workers.ray_nodes import (
    Node,
    check_address,
    check_store_for_cluster,
    connect,
    nodes_of,
    parse_selector,
    select_nodes,
)
from zoo.workers.worker import run_job, wait_for

__all__ = ["ClusterRun", "NodeWorker", "dispatch"]

#: How often an actor that Ray calls unavailable (a broken connection, not yet a death) is asked
#: again before its node counts as lost.
_UNAVAILABLE_TRIES = 5


@dataclass(frozen=True)
class ClusterRun:
    """A dispatch's answer: every job as it ended, per node in order, and the nodes."""

    nodes: tuple[Node, ...]
    jobs: tuple[Job, ...]
    seconds: float

    @property
    def failed(self) -> tuple[Job, ...]:
        return tuple(j for j in self.jobs if j.state != "done")


class NodeWorker:
    """The actor on one node: measures that node's jobs, one at a time, into the store.

    Each measurement runs on a thread of its own, never Ray's worker thread: a cancelled job
    interrupts only its own thread's wait (``zoo.workers.worker.run_job`` signals only a main thread),
    and the actor answers ``ping`` after ``serve`` ends (it runs one call at a time)."""

    def __init__(self, location: str, node: str) -> None:
        os.environ[NODE_ENV] = node  # every measurement here is this node's
        self.location = location
        self.node = node
        self.worker = f"{node}/{worker_id()}"

    def ping(self) -> str:
        return self.worker

    @staticmethod
    def _own_threads() -> None:
        """Ray sets ``OMP_NUM_THREADS`` to the actor's CPUs (1) in its workers where the node's
        environment did not set it; the protocol's default (the node's physical cores) applies
        instead, as it would outside Ray. A value from the node's own environment is kept."""
        try:
            with open("/proc/self/environ", "rb") as environ:  # as the process started
                started_with = {e.split(b"=", 1)[0] for e in environ.read().split(b"\0") if e}
        except OSError:  # not Linux: cannot tell Ray's value from the node's
            return
        if b"OMP_NUM_THREADS" not in started_with:
            os.environ.pop("OMP_NUM_THREADS", None)
            os.environ["OMP_NUM_THREADS"] = str(default_threads())

    def serve(self, job_ids: list[int], lease_s: float = LEASE_S, poll_s: float = 0.5) -> int:
        """Run this node's jobs until none of ``job_ids`` (this run's) is left active; also
        takes other runs' jobs for this node. Returns how many it ran."""
        self._own_threads()
        outcome: dict[str, Any] = {"ran": 0}

        def loop() -> None:
            try:
                outcome["ran"] = self._loop(job_ids, lease_s, poll_s)
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                outcome["error"] = exc

        thread = threading.Thread(target=loop, name=f"effscale-{self.node}", daemon=True)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return int(outcome["ran"])

    def _loop(self, job_ids: list[int], lease_s: float, poll_s: float) -> int:
        ran = 0
        with MeasurementStore(self.location) as store:
            while True:
                job = claim(store, self.worker, target=self.node, lease_s=lease_s, exclusive=True)
                if job is not None:
                    run_job(store, job, self.worker, lease_s=lease_s)
                    ran += 1
                    continue
                # None to take now: ours may still be held by another dispatcher's worker on
                # this node (it ends them, or its lease lapses and we take them).
                mine = [get_job(store, i) for i in job_ids]
                if not any(j is not None and j.active for j in mine):
                    return ran
                time.sleep(poll_s)


def _reason(node: Node, exc: BaseException) -> str:
    """Ray's account of a lost node, on one line."""
    text = " ".join(str(exc).split())
    for marker in ("The actor died because", "The actor is", "node"):
        at = text.find(marker)
        if at >= 0:
            text = text[at:]
            break
    return f"node {node.name} ({node.address}) was lost: {type(exc).__name__}: {text[:500]}"


def dispatch(
    location: str | None,
    specs: Sequence[ModelSpec],
    protocol: Protocol,
    *,
    address: str,
    selector: str = "all",
    group: str = "",
    requested_by: str = "cluster",
    on_progress: Callable[[list[Job]], None] | None = None,
    poll_s: float = 0.5,
    lease_s: float = LEASE_S,
) -> ClusterRun:
    """Measure every spec on every selected node (``selector``: ``all`` or ``LABEL=VALUE``) of
    the Ray cluster at ``address``, into the PostgreSQL store at ``location``; wait until every
    job has ended. The protocol is resolved on each node (``auto`` is each node's GPU, if any)."""
    chosen = parse_selector(selector)
    check_address(address)
    specs = list(dict.fromkeys(specs))
    if not specs:
        raise ZooError("nothing to measure: give at least one model")
    url = check_store_for_cluster(location)
    started = time.monotonic()
    ray = connect(address)
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = select_nodes(nodes_of(ray.nodes()), chosen)
    check_store_for_cluster(url, nodes)
    actor_class = ray.remote(num_cpus=0, max_restarts=0)(NodeWorker)
    with MeasurementStore(url) as store:
        submitted = {
            node.name: [
                submit(
                    store, spec, protocol, requested_by=requested_by, group=group, target=node.name
                )
                for spec in specs
            ]
            for node in nodes
        }
        ids = [job.id for jobs_of in submitted.values() for job in jobs_of]
        actors = {
            node.name: actor_class.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False)
            ).remote(url, node.name)
            for node in nodes
        }
        calls = {
            actors[node.name].serve.remote(
                [j.id for j in submitted[node.name]], lease_s, poll_s
            ): node
            for node in nodes
        }
        unavailable: dict[str, int] = {}
        try:
            while calls:
                ready, _ = ray.wait(list(calls), num_returns=1, timeout=poll_s)
                for ref in ready:
                    node = calls.pop(ref)
                    try:
                        ray.get(ref)
                    except ActorUnavailableError as exc:  # maybe a broken connection only
                        unavailable[node.name] = unavailable.get(node.name, 0) + 1
                        if unavailable[node.name] < _UNAVAILABLE_TRIES:
                            time.sleep(poll_s)
                            # Answered once the actor's serve has ended (or its death is known).
                            calls[actors[node.name].ping.remote()] = node
                            continue
                        ray.kill(actors[node.name])
                        fail_jobs(store, [j.id for j in submitted[node.name]], _reason(node, exc))
                    except (ActorDiedError, RayActorError) as exc:
                        fail_jobs(store, [j.id for j in submitted[node.name]], _reason(node, exc))
                    except Exception as exc:  # noqa: BLE001 - the actor's own failure
                        fail_jobs(
                            store,
                            [j.id for j in submitted[node.name]],
                            f"node {node.name}: {type(exc).__name__}: {' '.join(str(exc).split())}",
                        )
                if on_progress is not None:
                    on_progress([j for i in ids if (j := get_job(store, i)) is not None])
            ended = wait_for(store, ids, on_progress=on_progress, poll_s=poll_s)
        except BaseException:  # Ctrl-C: the run's unfinished jobs are cancelled, not left behind
            for job_id in ids:
                cancel(store, job_id)
            raise
        finally:
            for actor in actors.values():
                ray.kill(actor)
    return ClusterRun(tuple(nodes), tuple(ended), time.monotonic() - started)
