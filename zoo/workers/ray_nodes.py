"""The Ray cluster as the dispatcher sees it, and what is checked before anything is queued: the
head's address (and whether it answers), the ``--nodes`` selector, the alive nodes and their
names, the store URL the nodes will open. Ray itself is imported only by ``connect``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zoo.errors import ZooError
from zoo.paths import STORE_ENV
from zoo.store.url import is_url, parse_store_url, redact

__all__ = [
    "ADDRESS_FORM",
    "CONNECT_TIMEOUT_S",
    "SELECTOR_FORM",
    "Node",
    "check_address",
    "check_store_for_cluster",
    "connect",
    "nodes_of",
    "parse_selector",
    "probe",
    "select_nodes",
]

ADDRESS_FORM = "HOST:PORT of a running Ray head (ray start --head prints it), or auto"
SELECTOR_FORM = 'all, or LABEL=VALUE (a Ray node label: ray start --labels=\'{"LABEL": "VALUE"}\')'
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._/-]{0,252}[A-Za-z0-9])?")
_VALUE = re.compile(r"([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?")
#: Seconds to wait for the Ray head's port before giving up (``ray.init`` alone waits minutes).
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Node:
    """A node of the cluster, as the dispatcher sees it."""

    node_id: str
    name: str  # what its results and jobs are named by
    hostname: str
    address: str
    labels: tuple[tuple[str, str], ...]


def check_address(address: str) -> str:
    """``address`` if it is ``auto`` or ``HOST:PORT``, else a one-line ``ZooError``.

    >>> check_address("10.0.0.5:6379")
    '10.0.0.5:6379'
    >>> check_address("10.0.0.5")
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: Ray address '10.0.0.5' is not usable: accepted HOST:PORT of a running Ray head (ray start --head prints it), or auto
    """
    if address == "auto":
        return address
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ZooError(f"Ray address {address!r} is not usable: accepted {ADDRESS_FORM}")
    return address


def parse_selector(selector: str) -> tuple[str, str] | None:
    """``--nodes``: None for ``all``, else the (label, value) pair; bad ones are a ``ZooError``.

    >>> parse_selector("all"), parse_selector("gpu=t4")
    (None, ('gpu', 't4'))
    >>> parse_selector("gpu=")  # an empty value selects nothing a label can name
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: --nodes 'gpu=' is not usable: accepted all, or LABEL=VALUE (a Ray node label: ray start --labels='{"LABEL": "VALUE"}')
    >>> parse_selector("gpu")
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: --nodes 'gpu' is not usable: accepted all, or LABEL=VALUE (a Ray node label: ray start --labels='{"LABEL": "VALUE"}')
    """
    if selector == "all":
        return None
    label, sep, value = selector.partition("=")
    if not sep or not value or not _LABEL.fullmatch(label) or not _VALUE.fullmatch(value):
        raise ZooError(f"--nodes {selector!r} is not usable: accepted {SELECTOR_FORM}")
    return label, value


def nodes_of(infos: Iterable[Mapping[str, Any]]) -> list[Node]:
    """The alive nodes of ``ray.nodes()``, named: ``ray start --node-name`` where one was given
    (Ray's default name is the node's IP address), else the host name."""
    out = []
    for info in infos:
        if not info.get("Alive"):
            continue
        address = str(info.get("NodeManagerAddress", ""))
        hostname = str(info.get("NodeManagerHostname", "")) or address
        given = str(info.get("NodeName", ""))
        labels = info.get("Labels") or {}
        out.append(
            Node(
                node_id=str(info["NodeID"]),
                name=given if given and given != address else hostname,
                hostname=hostname,
                address=address,
                labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
            )
        )
    return out


def select_nodes(nodes: Sequence[Node], selector: tuple[str, str] | None) -> list[Node]:
    """The nodes ``selector`` picks (``parse_selector``), in name order. None picked, or two of
    one name, is a ``ZooError`` naming what is accepted.

    >>> a = Node("1", "box-a", "box-a", "10.0.0.1", (("gpu", "t4"),))
    >>> [n.name for n in select_nodes([a], ("gpu", "t4"))]
    ['box-a']
    >>> select_nodes([a], ("gpu", "h100"))
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: no alive node has the label gpu=h100: accepted all, gpu=t4
    """
    picked = [n for n in nodes if selector is None or selector in n.labels]
    if not picked:
        seen = sorted(
            {f"{k}={v}" for n in nodes for k, v in n.labels if not k.startswith("ray.io/")}
        )
        if selector is None:
            raise ZooError("the Ray cluster has no alive node: accepted a running cluster")
        raise ZooError(
            f"no alive node has the label {selector[0]}={selector[1]}: accepted "
            f"{', '.join(['all', *seen])}"
        )
    names: dict[str, Node] = {}
    for node in sorted(picked, key=lambda n: n.name):
        if node.name in names:
            raise ZooError(
                f"nodes {names[node.name].address} and {node.address} are both named "
                f"{node.name!r}: their results would be one machine's; accepted: nodes with "
                "names of their own (ray start --node-name NAME)"
            )
        names[node.name] = node
    return list(names.values())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_store_for_cluster(location: str | None, nodes: Sequence[Node] = ()) -> str:
    """The store URL the nodes will open: a PostgreSQL URL (every node writes to it) without a
    password in it, and not a loopback host when a node is on another machine."""
    location = location or os.environ.get(STORE_ENV) or ""
    if not is_url(location):
        raise ZooError(
            f"measuring on a Ray cluster needs a store every node can reach, not "
            f"{location or 'the per-user SQLite file'}: accepted --store "
            "postgresql://USER@HOST[:PORT]/DBNAME (or EFFSCALE_STORE)"
        )
    parsed = parse_store_url(location)
    if parsed.has_password or ":" in location.partition("://")[2].rpartition("@")[0]:
        raise ZooError(
            f"store {redact(location)} carries a password, which would travel with every Ray "
            "task and stay in the cluster's metadata: accepted a URL without one, the password "
            "in ~/.pgpass or PGPASSWORD on every node (see docs/scale-out.md)"
        )
    remote = [n.name for n in nodes if not _is_loopback(n.address)]
    if _is_loopback(parsed.host) and remote:
        raise ZooError(
            f"store {redact(location)} is on this machine's loopback address, which node "
            f"{remote[0]} cannot reach: accepted the store server's address as the nodes see it"
        )
    return location


def probe(address: str) -> None:
    """A ``ZooError`` at once when nothing answers at the Ray head's address (``ray.init`` alone
    would keep trying for minutes)."""
    check_address(address)
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ZooError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; accepted "
            f"{ADDRESS_FORM}"
        ) from None


def connect(address: str) -> Any:
    """``ray``, connected to the running cluster at ``address`` (reused if connected)."""
    import ray

    if ray.is_initialized():
        return ray
    probe(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray retries a head that does not answer for minutes by default: give up within our bound
    # (its core then ends this process with its own message).
    for name in (
        "RAY_gcs_rpc_server_reconnect_timeout_s",
        "RAY_gcs_server_request_timeout_seconds",
    ):
        os.environ.setdefault(name, str(int(CONNECT_TIMEOUT_S)))
    try:
        ray.init(address=address, namespace="effscale", log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ZooError(
            f"cannot connect to the Ray cluster at {address}: {' '.join(str(exc).split())}; "
            f"accepted {ADDRESS_FORM}"
        ) from None
    return ray
