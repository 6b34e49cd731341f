"""A few scenarios of `make calibrate`, checked in `make test` with room for Monte-Carlo error.

The sliced template: identical versions with 4 dimensions of 20 values fail no more than 2 %
(at 30 runs, at most 3 failures pass the check) and a 1.4x latency regression in 5 % of the
traffic is caught and its slice named (at least 24 of 30).

The full grid and its table are `make calibrate` (docs/canary-judgement.md). Here: the quiet
service, sampled data not stated, swinging load, and the two power targets. The check fails
only when the runs clearly contradict the claim: a false-abort rate more than three standard
errors above 2 % (at 600 runs: above 3.7 %), a power more than three below 90 % (at 200 runs:
below 83.6 %).
"""

from __future__ import annotations

import math

import pytest

from tests.calibration import slice_grid
from tests.calibration.__main__ import SEED
from tests.calibration.grid import Scenario, quick
from tests.calibration.runs import calibrate
from tests.calibration.slice_runs import calibrate_slices, seeded_label
from tests.calibration.templates import shipped, sliced_for

TEMPLATES = shipped()


@pytest.mark.parametrize("scenario", quick(), ids=lambda s: s.label)
def test_shipped_templates_hold_their_error_rates(scenario: Scenario) -> None:
    tallies = calibrate(TEMPLATES, scenario.traffic, scenario.runs, scenario.stated, SEED)
    card = tallies["scorecard"]
    if scenario.effect == "identical":
        margin = 3 * math.sqrt(0.02 * 0.98 / scenario.runs)
        for name, tally in tallies.items():
            assert tally.failed() <= 0.02 + margin, (name, tally.failed())
    else:
        margin = 3 * math.sqrt(0.9 * 0.1 / scenario.runs)
        assert card.failed() >= 0.9 - margin, card.failed()
        assert card.passed() <= 0.02 + 3 * math.sqrt(0.02 * 0.98 / scenario.runs)


@pytest.mark.slow  # about a minute: make unit leaves it to make test
@pytest.mark.parametrize("scenario", slice_grid.quick(), ids=lambda s: s.label)
def test_the_sliced_template_holds_its_error_rates(scenario: slice_grid.SliceScenario) -> None:
    tally = calibrate_slices(sliced_for(scenario.traffic.dimensions), scenario.traffic, scenario.runs, SEED)
    if scenario.traffic.seeded_share is None:
        assert tally.failed() <= 0.1, tally.failed()
    else:
        assert tally.failed() >= 0.8 and tally.named_share(seeded_label(scenario.traffic)) >= 0.95, tally
