"""Your own configurations on the compare chart: their URL tokens and their chart rows.

A configuration designed on the explorer travels to the compare page in its URL, one ``cfg``
parameter each; on the chart it has its exact MACs and parameters, its latency once measured,
and top-1 as the explorer's estimate with the fit's leave-one-out RMSE as its error bar. Plain
Python (no streamlit, no torch), because a token is untrusted input: a bad one becomes a warning
naming what is accepted. The token format: docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from dashboard.explorer import state
from explorer import ScaledNetwork, from_multipliers, from_phi, from_variant, official_variant_names
from explorer.estimate import estimate_top1, published_fit
from explorer.scaling import ScalingError

if TYPE_CHECKING:
    from zoo import ModelSpec

#: The URL parameter holding the configurations (repeated).
CONFIG_PARAM = "cfg"
#: How many configurations one URL may carry.
MAX_CONFIGS = 12

#: Columns of ``user_frame``.
USER_COLUMNS: tuple[str, ...] = (
    "token",
    "label",
    "params_m",
    "gmacs",
    "resolution_px",
    "top1_estimate_pct",
    "top1_loo_rmse_pct",
    "extrapolated",
    "latency_ms",
    "latency_ms_p90",
    "quality",
    "runtime",
    "protocol",
)


@dataclass(frozen=True)
class UserConfig:
    """One configuration: the explorer state it stands for and its URL token."""

    token: str
    state: state.ExplorerState

    @property
    def label(self) -> str:
        s = self.state
        if s.mode == "variant":
            return f"EfficientNet-{s.variant.upper()} (yours)"
        if s.mode == "explicit":
            return f"w={s.width:g} d={s.depth:g} r={s.resolution}"
        return f"φ={s.phi:g} α={s.alpha:g} β={s.beta:g} γ={s.gamma:g}"

    def network(self) -> ScaledNetwork:
        s = self.state
        if s.mode == "variant":
            return from_variant(s.variant)
        if s.mode == "explicit":
            return from_multipliers(s.width, s.depth, s.resolution)
        return from_phi(s.phi, s.alpha, s.beta, s.gamma)


def token_of(current: state.ExplorerState) -> str:
    """The token for an explorer state (exact: it reads back as the same numbers).

    >>> token_of(state.ExplorerState(phi=2.5))
    'phi:2.5:1.2:1.1:1.15'
    >>> token_of(state.ExplorerState(mode="explicit", width=1.2, depth=1.4, resolution=300))
    'wdr:1.2:1.4:300'
    """
    f = state.format_number
    if current.mode == "variant":
        return current.variant
    if current.mode == "explicit":
        return f"wdr:{f(current.width)}:{f(current.depth)}:{current.resolution}"
    return f"phi:{f(current.phi)}:{f(current.alpha)}:{f(current.beta)}:{f(current.gamma)}"


_GRAMMAR = "phi:φ:α:β:γ, wdr:width:depth:pixels, or an official variant (b0 … b7, b8, l2)"


def parse_token(token: str) -> UserConfig:
    """A configuration from its token; ``ValueError`` naming what is wrong and what is accepted.

    >>> parse_token("phi:2.5:1.2:1.1:1.15").label
    'φ=2.5 α=1.2 β=1.1 γ=1.15'
    >>> parse_token("wdr:1:1:9999")
    Traceback (most recent call last):
    ...
    ValueError: cfg='wdr:1:1:9999': r=9999 is outside [32, 4096]
    """
    text = str(token).strip()
    shown = text if len(text) <= 40 else text[:40] + "…"
    if not text or len(text) > state.MAX_VALUE_CHARS:
        raise ValueError(
            f"cfg={shown!r}: expected {_GRAMMAR}, at most {state.MAX_VALUE_CHARS} characters"
        )
    kind, _, rest = text.partition(":")
    kind = kind.lower()
    fields = rest.split(":") if rest else []
    if kind == "phi" and len(fields) == 4:
        params = dict(zip(("phi", "alpha", "beta", "gamma"), fields, strict=True))
        params["mode"] = "phi"
    elif kind == "wdr" and len(fields) == 3:
        params = dict(zip(("w", "d", "r"), fields, strict=True))
        params["mode"] = "explicit"
    elif not fields and kind.removeprefix("efficientnet_") in official_variant_names():
        params = {"mode": "variant", "variant": kind}
    else:
        raise ValueError(f"cfg={shown!r} is not a configuration: expected {_GRAMMAR}")
    parsed, warnings = state.parse_query_params(params)
    if warnings:
        problems = "; ".join(
            w.removeprefix("ignored ").removesuffix("; using the default") for w in warnings
        )
        raise ValueError(f"cfg={shown!r}: {problems}")
    config = UserConfig(token=token_of(parsed), state=parsed)
    try:
        config.network()
    except ScalingError as exc:
        raise ValueError(f"cfg={shown!r}: {exc}") from None
    return config


def parse_params(values: Iterable[object]) -> tuple[list[UserConfig], list[str]]:
    """The configurations of a URL's ``cfg`` values, in order and without repeats, plus one
    warning per value that was ignored."""
    configs: list[UserConfig] = []
    warnings: list[str] = []
    for value in values:
        try:
            config = parse_token(str(value))
        except ValueError as exc:
            warnings.append(f"ignored {exc}")
            continue
        if config.token in {c.token for c in configs}:
            continue
        if len(configs) == MAX_CONFIGS:
            warnings.append(f"ignored configurations after the first {MAX_CONFIGS}")
            break
        configs.append(config)
    return configs, warnings


def spec_of(config: UserConfig) -> ModelSpec:
    """The zoo's model spec for a configuration (what a measurement job builds)."""
    from zoo import spec_from_multipliers, spec_from_phi, spec_from_variant

    s = config.state
    if s.mode == "variant":
        return spec_from_variant(s.variant)
    if s.mode == "explicit":
        return spec_from_multipliers(s.width, s.depth, s.resolution)
    return spec_from_phi(s.phi, s.alpha, s.beta, s.gamma)


def user_frame(
    configs: Iterable[UserConfig],
    latency: Mapping[str, Mapping[str, object]],
) -> pd.DataFrame:
    """One row per configuration (``USER_COLUMNS``): exact MACs and params, the accuracy
    estimate and its leave-one-out RMSE, and the measurement ``latency[token]`` if there is one
    (a ``Measurement.to_dict()`` of the chart's series)."""
    fit = published_fit()
    rows = []
    for config in configs:
        network = config.network()
        estimate = estimate_top1(network.macs, fit)
        m = latency.get(config.token) or {}
        rows.append(
            {
                "token": config.token,
                "label": config.label,
                "params_m": network.params / 1e6,
                "gmacs": network.macs / 1e9,
                "resolution_px": network.resolution,
                "top1_estimate_pct": estimate.top1_pct,
                "top1_loo_rmse_pct": estimate.loo_rmse_pct,
                "extrapolated": estimate.extrapolated,
                "latency_ms": m.get("latency_ms_median"),
                "latency_ms_p90": m.get("latency_ms_p90"),
                "quality": m.get("quality"),
                "runtime": m.get("runtime"),
                "protocol": m.get("protocol"),
            }
        )
    return pd.DataFrame(rows, columns=list(USER_COLUMNS))


__all__ = [
    "CONFIG_PARAM",
    "MAX_CONFIGS",
    "USER_COLUMNS",
    "UserConfig",
    "parse_params",
    "parse_token",
    "spec_of",
    "token_of",
    "user_frame",
]
