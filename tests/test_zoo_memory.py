"""zoo.memory: estimates from the explorer (or a meta-device trace), and refusals that allocate
nothing."""

import psutil  # noqa: E402
import pytest

from zoo import ZooError  # noqa: E402
from zoo.measure import memory  # noqa: E402
from zoo.models.spec import spec_from_timm, spec_from_variant  # noqa: E402


def test_b0_estimate_uses_explorer_numbers():
    from explorer import from_variant

    est = memory.estimate_memory(spec_from_variant("b0"), 4, "fp32", "cpu")
    net = from_variant("b0")
    assert est.weights_bytes == 5_288_548 * 4
    assert est.activations_bytes == int(
        net.peak_activation_elements * 4 * 4 * memory.ACTIVATION_FACTOR
    )
    assert est.total_bytes == est.weights_bytes + est.activations_bytes + est.runtime_bytes
    assert est.available_bytes > 0 and est.fits
    assert est.batch_size == 4 and est.device == "cpu"


def test_half_precision_keeps_fp32_weights_and_halves_activations():
    spec = spec_from_variant("b1")
    fp32 = memory.estimate_memory(spec, 8, "fp32", "cpu")
    bf16 = memory.estimate_memory(spec, 8, "bf16", "cpu")
    assert bf16.weights_bytes == fp32.weights_bytes * 6 // 4
    assert bf16.activations_bytes == fp32.activations_bytes // 2


def test_absurd_batch_is_refused_without_allocating():
    process = psutil.Process()
    before = process.memory_info().rss
    with pytest.raises(ZooError) as info:
        memory.check_fits(spec_from_variant("b7"), 100_000, "fp32", "cpu")
    grew = process.memory_info().rss - before
    message = str(info.value)
    assert "efficientnet_b7" in message and "needs ~" in message
    assert "at batch 100000" in message and "is available" in message
    assert "try a smaller batch/resolution" in message
    assert "\n" not in message
    assert grew < 64 * 2**20  # nothing was built


def test_timm_peer_estimate_from_meta_trace():
    spec = spec_from_timm("resnet50", resolution=224)
    params, peak = memory.peak_activation_elements(spec)
    assert params == 25_557_032
    # the largest layer in ResNet-50 at 224 px: 256 × 56 × 56 out of a 64 × 56 × 56 input, or
    # the 64 × 112 × 112 stem output; anything in that range is right
    assert 700_000 < peak < 2_000_000
    assert memory.estimate_memory(spec, 1, "fp32", "cpu").fits
    with pytest.raises(ZooError, match="needs ~"):
        memory.check_fits(spec, 1_000_000, "fp32", "cpu")


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_bad_batch(batch):
    with pytest.raises(ZooError, match="batch size"):
        memory.estimate_memory(spec_from_variant("b0"), batch, "fp32", "cpu")


def test_bad_precision():
    with pytest.raises(ZooError, match="accepted fp32, bf16, fp16, int8"):
        memory.estimate_memory(spec_from_variant("b0"), 1, "int4", "cpu")


def test_cgroup_v2_limit(tmp_path):
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text("536870912\n")
    (tmp_path / "memory.stat").write_text("anon 1\ninactive_file 1048576\n")
    assert memory._cgroup_available_bytes(tmp_path) == 2**29 + 2**20


def test_cgroup_v1_limit_and_unlimited(tmp_path):
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("2147483648\n")
    (v1 / "memory.usage_in_bytes").write_text("1073741824\n")
    (v1 / "memory.stat").write_text("total_inactive_file 0\n")
    assert memory._cgroup_available_bytes(tmp_path) == 2**30
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert memory._cgroup_available_bytes(tmp_path) is None
    (tmp_path / "memory.max").write_text("max\n")
    assert memory._cgroup_available_bytes(tmp_path) is None


def test_available_memory_is_at_most_psutil():
    assert 0 < memory.available_memory_bytes("cpu") <= psutil.virtual_memory().available * 1.05
