"""An ONNX graph cut into one sub-graph per part of the network (stem, each stage, head), each
runnable alone with inputs of the shapes its part receives.

Why: ONNX Runtime's profiler slows the kernels it times (its per-kernel bookkeeping and
thread-pool statistics: +40 % on B0 here), so a part's time is taken by running the part alone
(docs/profile.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["GraphPart", "cut_parts"]

#: ONNX element types a part's input may have, and the numpy type it is fed as.
_FEEDABLE = {1: "float32", 2: "uint8", 3: "int8", 10: "float16"}


@dataclass(frozen=True)
class GraphPart:
    """One part's sub-graph (serialised ONNX) and its inputs' names, shapes and numpy types."""

    part: str
    model: bytes
    inputs: tuple[tuple[str, tuple[int, ...], str], ...]
    nodes: int

    def feeds(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Inputs for one run: standard normal floats (integers: small random ones)."""
        import numpy as np

        rng = np.random.default_rng(seed)
        out = {}
        for name, shape, dtype in self.inputs:
            if dtype.startswith("float"):
                out[name] = rng.standard_normal(shape).astype(dtype)
            else:
                out[name] = rng.integers(0, 100, shape).astype(dtype)
        return out


def _shapes(model) -> dict[str, tuple[tuple[int, ...], int]]:
    known = {}
    graph = model.graph
    for info in list(graph.value_info) + list(graph.input) + list(graph.output):
        tensor = info.type.tensor_type
        dims = tuple(d.dim_value for d in tensor.shape.dim)
        if dims and all(d > 0 for d in dims):
            known[info.name] = (dims, tensor.elem_type)
    return known


def cut_parts(path: Path, part_of: Callable[[str], str | None]) -> list[GraphPart]:
    """The graph at ``path`` cut by ``part_of`` (a node's name → its part; None: the part of
    the node before it), parts in the order they first run. A ``ZooError`` when a part's input
    has no static shape or a type that cannot be fed."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    shapes = _shapes(model)
    constants = {i.name for i in graph.initializer}
    for node in graph.node:  # a Constant, or an Identity of a shared weight: no part's input
        if all(t in constants for t in node.input if t):
            constants.update(node.output)
    producer: dict[str, str] = {i.name: "" for i in graph.input if i.name not in constants}
    node_part: list[str] = []
    previous = None
    for node in graph.node:
        part = part_of(node.name) or previous
        if part is None:
            part = next((p for n in graph.node if (p := part_of(n.name))), "stem")
        previous = part
        node_part.append(part)
        for out in node.output:
            if out not in constants:
                producer[out] = part
    outputs = {o.name for o in graph.output}
    order = list(dict.fromkeys(node_part))
    extractor = Extractor(model)
    cut = []
    for part in order:
        mine = [
            n for n, p in zip(graph.node, node_part, strict=True)
            if p == part and not set(n.output) <= constants
        ]  # fmt: skip
        ins = list(dict.fromkeys(
            t for n in mine for t in n.input if t and producer.get(t, part) != part
        ))  # fmt: skip
        used_later = {
            t for n, p in zip(graph.node, node_part, strict=True) if p != part for t in n.input
        } - constants
        outs = list(dict.fromkeys(
            t for n in mine for t in n.output if t in outputs or t in used_later
        ))  # fmt: skip
        typed = []
        for name in ins:
            if name not in shapes or shapes[name][1] not in _FEEDABLE:
                raise ZooError(f"part {part!r} of {path.name}: input {name!r} has no static "
                               "shape or a type that can be fed; accepted: a fixed shape of "
                               f"{', '.join(_FEEDABLE.values())}")  # fmt: skip
            dims, elem = shapes[name]
            typed.append((name, dims, _FEEDABLE[elem]))
        try:
            sub = extractor.extract_model(ins, outs)
        except ValueError as exc:  # a tensor the graph does not describe
            raise ZooError(f"part {part!r} of {path.name} cannot be cut out: {exc}") from None
        cut.append(GraphPart(part, sub.SerializeToString(), tuple(typed), len(mine)))
    return cut
