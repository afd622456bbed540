"""Measurements as the CLI prints them: an aligned table, strict JSON or CSV.

The table is for people: one row per model and the runtime that produced it (and the cluster
node, as ``device@node``), then footnotes with what the numbers mean (machine, threads,
versions; one line per machine) and, for every runtime other than eager fp32, its version, the
precision it ran in, its export and compile times and how its outputs compared with eager
fp32's. JSON and CSV carry every field of the record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from zoo.jsontext import strict_dumps
from zoo.records.measurement import Measurement
from zoo.records.runtimes import REFERENCE_RUNTIME, get_runtime

__all__ = ["SUMMARY_COLUMNS", "format_measurements", "runtime_note"]

#: The columns every output format carries, in order (JSON/CSV add the rest of the record).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "model",
    "resolution",
    "params",
    "macs",
    "batch_size",
    "precision",
    "device",
    "latency_ms_median",
    "latency_ms_p90",
    "throughput_ips",
    "peak_memory_mb",
)


def _cell(value: object, digits: int = 2) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def format_measurements(measurements: Sequence[Measurement], fmt: str) -> str:
    """The measurements as an aligned table, a JSON array or CSV (header + rows)."""
    records = [m.to_dict() for m in measurements]
    if fmt == "json":
        return strict_dumps(records, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        names = list(records[0]) if records else list(SUMMARY_COLUMNS)
        writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue()
    header = (
        "model",
        "res",
        "params",
        "GMACs",
        "batch",
        "prec",
        "device",
        "median ms",
        "min ms",
        "p90 ms",
        "img/s",
        "peak MB",
        "iters",
        "rounds",
        "runtime",
        "source",
    )
    rows = [
        (
            r["model"],
            str(r["resolution"]),
            _cell(r["params"]),
            f"{r['macs'] / 1e9:.3f}",
            str(r["batch_size"]),
            r["precision"],
            r["device"] + (f"@{r['node']}" if r.get("node") else ""),
            _cell(r["latency_ms_median"]),
            _cell(r["latency_ms_min"]),
            _cell(r["latency_ms_p90"]),
            _cell(r["throughput_ips"], 1),
            _cell(r["peak_memory_mb"], 0),
            str(r["iterations"]),
            _rounds(r),
            r.get("runtime", REFERENCE_RUNTIME),
            ("stored" if r["from_store"] else "measured")
            + (" NOISY" if r.get("quality") == "noisy" else ""),
        )
        for r in records
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (header, *rows)
    ]
    machines = []  # one footnote per machine (a cluster run has several), in order
    for r in records:
        line = (
            f"# {r['node'] + ': ' if r.get('node') else ''}{r['device_name']}; {r['threads']} "
            f"threads; torch {r['torch_version']}, timm {r['timm_version']}; channels_last="
            f"{r['channels_last']}; warm-up {r['warmup_iters']}; MACs by ptflops "
            f"{r['macs_backend']}; peak memory = {r['peak_memory_kind']}"
        )
        if line not in machines:
            machines.append(line)
    lines += machines
    lines += [f"# {note}" for m in measurements if (note := runtime_note(m))]
    lines += [
        f"# NOISY {m.model} on {m.runtime}: {m.quality_reason} (not served from the store as "
        "clean: asking again measures again)"
        for m in measurements
        if m.noisy
    ]
    return "\n".join(lines) + "\n"


def _rounds(r: dict) -> str:
    """``5 ±2%``: the rounds the figure comes from and how far they spread (``-`` for a single
    run from before rounds)."""
    used, spread = r.get("rounds_used") or 0, r.get("round_spread")
    if not used or spread is None:
        return "-"
    aside = r.get("rounds_set_aside") or 0
    return f"{used}{f'+{aside} slow' if aside else ''} ±{(spread - 1) * 50:.0f}%"


def _seconds(value: float | None, cached: bool | None = None) -> str:
    if value is None:
        return "-"
    return "from the cache" if cached else f"{value:.2f} s"


def runtime_note(m: Measurement) -> str:
    """One line on how a runtime other than eager fp32 ran and how it compared ("" for eager
    fp32, the reference itself)."""
    if get_runtime(m.runtime).reference and m.precision == "fp32":
        return ""
    head = f"{m.model} on {m.runtime}" + (f" {m.runtime_version}" if m.runtime_version else "")
    parts = [head, f"ran in {m.runtime_precision or m.precision}"]
    if m.export_s is not None:
        parts.append(f"ONNX export {_seconds(m.export_s, m.artifact_cached)}")
    if m.compile_s is not None:
        parts.append(f"compile/load {_seconds(m.compile_s)}")
    if m.equiv_max_rel is not None:
        parts.append(
            f"vs eager fp32: max rel diff {m.equiv_max_rel:.2g}, top-1 agreement "
            f"{m.equiv_top1_pct:.0f} % ({m.equiv_inputs})"
        )
    return "; ".join(parts)
