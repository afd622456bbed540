"""Rounding jumps: golden cases worked out by hand from ceil(d × r) and the round_filters rule.

round_filters (tensorflow/tpu efficientnet_model.py; timm make_divisible): the nearest multiple
of 8 of w × c, at least 8, plus 8 more when that is below 90 % of w × c.
"""

from __future__ import annotations

import doctest

import pytest

import explorer.rounding
from explorer import from_phi, from_variant, scale_network
from explorer.rounding import rounding_note, rounding_report

B0_REPEATS = [1, 2, 2, 3, 3, 4, 1]
B0_CHANNELS = [16, 24, 40, 80, 112, 192, 320]


def _repeats(report):
    return [s.repeats.rounded for s in report.stages]


def _channels(report):
    return [s.channels.rounded for s in report.stages]


def test_b0_reports_no_rounding_and_no_note():
    for net in (from_variant("b0"), from_phi(0.0), scale_network(1.0, 1.0, 224)):
        report = rounding_report(net)
        assert _repeats(report) == B0_REPEATS
        assert [s.repeats.exact for s in report.stages] == B0_REPEATS
        assert [s.channels.exact for s in report.stages] == B0_CHANNELS
        assert all(s.repeats.added == 0 and s.channels.added == 0 for s in report.stages)
        assert report.repeat_jumps == () and report.channel_jumps == ()
        assert (report.blocks.exact, report.blocks.rounded) == (16, 16)
        assert rounding_note(report) is None


def test_phi_001_every_stage_gains_a_block():
    # d = 1.2^0.01 = 1.0018249: ceil(1.0018 × r) = r + 1 for every r in 1, 2, 2, 3, 3, 4, 1.
    # w = 1.1^0.01 = 1.00095: 16.015 → 16, 32.03 → 32, 1281.2 → 1280: no channel changes.
    # 224 × 1.15^0.01 = 224.31 → 224 px.
    report = rounding_report(from_phi(0.01))
    d = 1.2**0.01
    assert report.depth_multiplier == pytest.approx(d)
    assert [s.repeats.exact for s in report.stages] == pytest.approx([d * r for r in B0_REPEATS])
    assert _repeats(report) == [2, 3, 3, 4, 4, 5, 2]
    assert [s.stage for s in report.repeat_jumps] == [1, 2, 3, 4, 5, 6, 7]
    assert _channels(report) == B0_CHANNELS
    assert (report.stem.rounded, report.head.rounded) == (32, 1280)
    assert report.channel_jumps == ()
    assert (report.blocks.base, report.blocks.rounded) == (16, 23)
    assert report.blocks.exact == pytest.approx(16 * d)
    assert report.resolution is not None
    assert report.resolution.exact == pytest.approx(224.313, abs=1e-3)
    assert report.resolution.rounded == 224
    note = rounding_note(report)
    assert note is not None
    assert note.startswith("Stages 1–7 gained a whole block each over B0")
    assert "ceil(1.0018 × 2 = 2.004) = 3" in note
    assert "23 blocks" in note and "16.03" in note
    assert "Channels" not in note


def test_depth_and_width_1_2_by_hand():
    # d = 1.2: 1.2, 2.4, 2.4, 3.6, 3.6, 4.8, 1.2 → 2, 3, 3, 4, 4, 5, 2; ceil added 0.8, 0.6,
    # 0.6, 0.4, 0.4, 0.2, 0.8 blocks, so stages 1, 2, 3 and 7 are jumps.
    # w = 1.2: stage 1 asks 19.2 → nearest multiple of 8 is 16 < 0.9 × 19.2 = 17.28 → 24;
    # stage 2: 28.8 → 32 (+11 %); stem 38.4 → 40; stage 5: 134.4 → 136; stage 6: 230.4 → 232.
    report = rounding_report(scale_network(1.2, 1.2, 224))
    assert _repeats(report) == [2, 3, 3, 4, 4, 5, 2]
    added = [s.repeats.added for s in report.stages]
    assert added == pytest.approx([0.8, 0.6, 0.6, 0.4, 0.4, 0.2, 0.8])
    assert [s.stage for s in report.repeat_jumps] == [1, 2, 3, 7]
    assert _channels(report) == [24, 32, 48, 96, 136, 232, 384]
    assert [s.channels.exact for s in report.stages] == pytest.approx(
        [19.2, 28.8, 48.0, 96.0, 134.4, 230.4, 384.0]
    )
    assert (report.stem.exact, report.stem.rounded) == (pytest.approx(38.4), 40)
    assert [c.name for c in report.channel_jumps] == ["stage 1 channels", "stage 2 channels"]
    assert report.channel_jumps[0].added_pct == pytest.approx(25.0)
    assert report.resolution is None  # pixels were given, nothing rounded
    note = rounding_note(report)
    assert note.startswith("Stages 1, 2, 3 and 7 gained a whole block each over B0")
    assert "asks for only 0.2–0.4 more" in note
    assert "stage 1 asks for 19.2 and gets 24 (+25 %)" in note
    assert "stage 2 asks for 28.8 and gets 32 (+11 %)" in note


def test_shrinking_keeps_blocks_and_the_minimum_width():
    # d = 0.4: 0.4, 0.8, 0.8, 1.2, 1.2, 1.6, 0.4 → 1, 1, 1, 2, 2, 2, 1 (10 blocks for 6.4);
    # ceil added 0.6, 0.2, 0.2, 0.8, 0.8, 0.4, 0.6: stages 1, 4, 5 and 7.
    # w = 0.25: stage 1 asks 4 → at least 8 (+100 %); stage 2: 6 → 8; stage 3: 10 → 8 is
    # below 9, so 16; stage 4: 20 → 24 (+20 %); stage 5: 28 → 32 (+14 %); stage 6: 48;
    # stage 7: 80; stem 8; head 320.
    report = rounding_report(scale_network(0.25, 0.4, 224))
    assert _repeats(report) == [1, 1, 1, 2, 2, 2, 1]
    assert [s.stage for s in report.repeat_jumps] == [1, 4, 5, 7]
    assert (report.blocks.rounded, report.blocks.exact) == (10, pytest.approx(6.4))
    assert _channels(report) == [8, 8, 16, 24, 32, 48, 80]
    assert (report.stem.rounded, report.head.rounded) == (8, 320)
    jumps = {c.name: round(c.added_pct, 1) for c in report.channel_jumps}
    assert jumps == {
        "stage 1 channels": 100.0,
        "stage 2 channels": 33.3,
        "stage 3 channels": 60.0,
        "stage 4 channels": 20.0,
        "stage 5 channels": 14.3,
    }
    note = rounding_note(report)
    assert note.startswith("Stages 1, 4, 5 and 7 are rounded up by half a block or more")
    assert "gained" not in note  # d < 1: nothing was gained over B0
    assert "(and 2 more)" in note


def test_phi_minus_1_keeps_b0s_16_blocks_and_says_why():
    # d = 1/1.2: 0.833, 1.667, 1.667, 2.5, 2.5, 3.333, 0.833 → 1, 2, 2, 3, 3, 4, 1 = 16;
    # stages 4, 5 (2.5 → 3) and 6 (3.33 → 4) get half a block or more.
    # w = 1/1.1: the stem and stages 1–3 ask 29.1, 14.5, 21.8, 36.4 and keep 32, 16, 24, 40:
    # +10 % each, the most the rule allows without adding 8.
    report = rounding_report(from_phi(-1.0))
    assert _repeats(report) == B0_REPEATS
    assert [s.stage for s in report.repeat_jumps] == [4, 5, 6]
    assert [c.name for c in report.channel_jumps] == [
        "stem channels",
        "stage 1 channels",
        "stage 2 channels",
        "stage 3 channels",
    ]
    note = rounding_note(report)
    assert note.startswith("Stages 4–6 are rounded up by half a block or more")
    assert "ceil(0.83333 × 4 = 3.333) = 4" in note
    assert "16 blocks where 0.83333 × 16 = 13.33" in note


@pytest.mark.parametrize("variant", ["b1", "b3", "b7"])
def test_official_variants_report_what_their_structure_shows(variant):
    net = from_variant(variant)
    report = rounding_report(net)
    assert _repeats(report) == [s.repeats for s in net.stages]
    assert _channels(report) == [s.out_channels for s in net.stages]
    # Rounding never removes a block and never takes a width 10 % or more below its request.
    assert all(0 <= s.repeats.added < 1 for s in report.stages)
    assert all(s.channels.added_pct > -10 for s in report.stages)


def test_b1_is_23_blocks_because_of_ceil():
    # B1: d = 1.1, w = 1.0 (tensorflow/tpu params_dict): 1.1, 2.2, 2.2, 3.3, 3.3, 4.4, 1.1 →
    # 2, 3, 3, 4, 4, 5, 2; ceil adds 0.9, 0.8, 0.8, 0.7, 0.7, 0.6, 0.9: every stage a jump.
    note = rounding_note(rounding_report(from_variant("b1")))
    assert note.startswith(
        "Stages 1–7 gained a whole block each over B0 where the depth multiplier asks for only "
        "0.1–0.4 more"
    )
    assert "23 blocks where 1.1 × 16 = 17.60" in note
    assert "Channels" not in note  # w = 1.0


def test_the_doctests_hold():
    result = doctest.testmod(explorer.rounding)
    assert result.attempted > 0 and result.failed == 0
