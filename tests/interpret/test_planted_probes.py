"""Each interpretation probe on its planted truth at tiny size (interpret-validate's
validate_all): the probe finds the planted answer in networks trained on the planted
labels, and not in the negative control, a network trained on a random label per region.
A probe that failed here would be reported "probe not validated" in interpretation.md.
This module: the length-scale and flux-only sets (location and polarity:
test_planted_probes_location.py)."""

import json

import pytest

from preemergence.interpret.validation_report import planted_sections

from planted_tiny import assert_probe_validated, validate_tiny

pytestmark = pytest.mark.slow
SETS = ["length_scale", "flux_only"]


@pytest.fixture(scope="module")
def validation(params, tmp_path_factory):
    figures = tmp_path_factory.mktemp("planted")
    return validate_tiny(params, SETS, figures), figures


@pytest.mark.parametrize("name", SETS)
def test_the_probe_finds_the_planted_answer_and_the_control_does_not(validation, name):
    assert_probe_validated(validation[0][name])


def test_the_bipole_probe_recovers_r_star(validation):
    measured = validation[0]["length_scale"]["measured"]
    assert all(abs(r - measured["planted_radius_mm"]) <= 5.0
               for r in measured["characteristic_radius_mm"])


def test_the_report_sections_show_the_planted_figures(validation):
    records, figures = validation
    for name in SETS:
        for figure in records[name]["figures"]:
            assert (figures / figure).stat().st_size > 5_000, figure
    text = "\n".join(planted_sections({"depth": 5, "config": "fast", "sets": records}))
    assert text.count("- Probe validated: yes") == len(SETS)
    json.dumps(records, allow_nan=True)           # the stage writes it as JSON
