"""The profile itself: placed layer times summed per part and per operator kind, each with its
MACs, bytes, achieved GFLOP/s and GB/s and its fraction of the roofline, and the sum checked
against the whole-model latency (the gap stated, never hidden).
"""

from __future__ import annotations

from typing import Any

from explorer.operators import OPERATOR_KINDS
from zoo.profile.ceilings import Ceilings

__all__ = ["AGREEMENT_PCT", "profile_document", "rate_row"]

#: How far the sum of the parts may sit from the whole-model latency and still be said to agree.
AGREEMENT_PCT = 15.0


def _network_order(part: str) -> tuple[int, int]:
    if part == "stem":
        return (0, 0)
    if part.startswith("stage "):
        return (1, int(part.split()[1]))
    return (2, 0)


def rate_row(ms: float, macs: int, nbytes: int, ceilings: Ceilings) -> dict[str, float | None]:
    """Achieved GFLOP/s and GB/s, arithmetic intensity (FLOP/byte), and % of the roofline (the
    achieved rate over min(peak, intensity × bandwidth)); None where there is nothing to rate."""
    if ms <= 0 or macs <= 0 or nbytes <= 0:
        return {"gflops": None, "gbs": None, "intensity": None, "roofline_pct": None}
    gflops = 2 * macs / (ms * 1e6)
    intensity = 2 * macs / nbytes
    return {
        "gflops": gflops,
        "gbs": nbytes / (ms * 1e6),
        "intensity": intensity,
        "roofline_pct": 100 * gflops / ceilings.attainable_gflops(intensity),
    }


def profile_document(
    placed: list[tuple[str, str, float, bool]],
    costs: dict[tuple[str, str], tuple[int, int]],
    whole_ms: float,
    ceilings: Ceilings,
) -> dict[str, Any]:
    """Parts (in network order) and kinds (in ``OPERATOR_KINDS`` order) from ``placed`` (part,
    kind, ms per call, named by a module) and ``costs`` ((part, kind) → MACs, bytes)."""
    named = {part for part, *_ in placed} | {part for part, _ in costs}
    order = sorted(named, key=_network_order)
    total = sum(ms for _, _, ms, _ in placed)
    by_cell: dict[tuple[str, str], float] = {}
    for part, kind, ms, _ in placed:
        by_cell[(part, kind)] = by_cell.get((part, kind), 0.0) + ms

    def row(name: str, cells: list[tuple[str, str]]) -> dict[str, Any]:
        ms = sum(by_cell.get(c, 0.0) for c in cells)
        macs = sum(costs.get(c, (0, 0))[0] for c in cells)
        nbytes = sum(costs.get(c, (0, 0))[1] for c in cells)
        shares = {"ms": ms, "share_pct": 100 * ms / total if total else 0.0}
        return {"name": name, **shares, "macs": macs, "bytes": nbytes,
                **rate_row(ms, macs, nbytes, ceilings)}  # fmt: skip

    parts = []
    for part in order:
        entry = row(part, [(part, k) for k in OPERATOR_KINDS])
        entry["kinds_ms"] = {k: by_cell[(part, k)] for k in OPERATOR_KINDS if (part, k) in by_cell}
        parts.append(entry)
    kinds = [row(k, [(p, k) for p in order]) for k in OPERATOR_KINDS]
    gap = 100 * (total - whole_ms) / whole_ms
    return {
        "whole_ms": whole_ms,
        "profiled_ms": total,
        "gap_pct": gap,
        "agrees": abs(gap) <= AGREEMENT_PCT,
        "unnamed_ms": sum(ms for *_, ms, named in placed if not named),
        "layers": len(placed),
        "parts": parts,
        "kinds": [k for k in kinds if k["ms"] > 0 or k["macs"] > 0],
        "ceilings": {
            "peak_gflops": ceilings.peak_gflops,
            "bandwidth_gbs": ceilings.bandwidth_gbs,
            "ridge_flop_per_byte": ceilings.ridge,
            "precision": ceilings.precision,
            "fingerprint": ceilings.fingerprint,
            "measured_at": ceilings.measured_at,
        },
    }
