"""Planted-truth sets hold what they plant (interpret/planted_sets.py), and the report reads
"probe not validated" for a finding whose probe failed its planted truth."""

import numpy as np
import pytest

from preemergence.core.config import with_overrides
from preemergence.core.constants import BOX_START_PX, BOX_STOP_PX
from preemergence.interpret.planted_sets import PLANTED_SETS, planted_store, sampling_plan
from preemergence.interpret.validate import control_record, planted_set
from preemergence.interpret.validation_report import (apply_validation, planted_sections,
                                                      probe_status)

BOX = slice(BOX_START_PX, BOX_STOP_PX)


@pytest.fixture(scope="module")
def small(params):
    return with_overrides(params, {"interpret_validate.n_ear": 8, "interpret_validate.n_cr": 8})


def cube(small, name):
    store = planted_store(name, small.interpret_validate, -3.2, small.seed, -1)
    kinds = np.array([r.kind for r in store.regions])
    return store, store.maps[-3.2], kinds


def test_a_planted_set_is_a_function_of_its_seed(small):
    a = planted_store("polarity", small.interpret_validate, -3.2, 42)
    b = planted_store("polarity", small.interpret_validate, -3.2, 42)
    c = planted_store("polarity", small.interpret_validate, -3.2, 7)
    np.testing.assert_array_equal(a.maps[-3.2], b.maps[-3.2])
    assert not np.array_equal(a.maps[-3.2], c.maps[-3.2])
    with pytest.raises(ValueError, match="no planted set 'size'"):
        planted_store("size", small.interpret_validate, -3.2, 42)


def test_location_plants_a_hale_bipole_inside_the_box_and_nothing_elsewhere(small):
    _, maps, kinds = cube(small, "location")
    rms = small.interpret_validate.background_rms_g
    strong = np.abs(maps) > 6 * rms
    assert not strong[kinds == "CR"].any()                       # CRs: noise only
    outside = strong[kinds == "EAR"].copy()
    outside[:, BOX, BOX] = False
    assert not outside.any() and strong[kinds == "EAR"][:, BOX, BOX].any(axis=(1, 2)).all()
    ear = maps[kinds == "EAR"].mean(axis=0)[BOX, BOX]
    half = ear.shape[1] // 2
    assert ear[:, half:].mean() < 0 < ear[:, :half].mean()       # west negative (Hale, north)


def test_length_scale_separates_size_not_flux(small):
    _, maps, kinds = cube(small, "length_scale")
    flux = np.abs(maps).sum(axis=(1, 2))
    ear, cr = np.median(flux[kinds == "EAR"]), np.median(flux[kinds == "CR"])
    assert 0.7 < ear / cr < 1.4                                  # one flux distribution
    ear_fields = np.abs(maps[kinds == "EAR"])
    field = np.median(ear_fields[ear_fields > 30])               # the discs' own field
    assert field == pytest.approx(small.interpret_validate.length_scale.field_g, rel=0.3)


def disc_radii_mm(field_g, floor_g):
    """Equivalent radius (Mm) of each connected disc of one sign beyond floor_g (G)."""
    from scipy import ndimage
    from preemergence.core.constants import PIXEL_SCALE_MM
    areas = [np.bincount(ndimage.label(sign * field_g > floor_g)[0].ravel())[1:]
             for sign in (1, -1)]
    return np.sqrt(np.concatenate(areas) / np.pi) * PIXEL_SCALE_MM


def test_size_trend_makes_every_ear_bipole_larger_than_every_cr_bipole(small):
    """Fig. 16's planted truth: PE grows with size, at one field distribution."""
    s = small.interpret_validate.size_trend
    _, maps, kinds = cube(small, "size_trend")
    for kind in ("EAR", "CR"):                          # one field distribution
        fields = np.abs(maps[kinds == kind])
        assert np.median(fields[fields > 30]) == pytest.approx(s.field_g, rel=0.3), kind
    # without the background, every disc traced
    quiet = with_overrides(small, {"interpret_validate.background_rms_g": 1e-3})
    _, maps, kinds = cube(quiet, "size_trend")
    ear, cr = (np.concatenate([disc_radii_mm(m, 0.5) for m in maps[kinds == k]])
               for k in ("EAR", "CR"))
    assert s.ne_radii_mm[0] * 0.8 < np.median(cr) < s.ne_radii_mm[1]
    assert np.median(cr) < s.pe_radii_mm[0] * 0.8 < np.median(ear)
    with pytest.raises(ValueError, match="must lie below pe_radii_mm"):
        with_overrides(small, {"interpret_validate.size_trend.ne_radii_mm": [3.0, 16.0]})


def test_flux_only_is_a_uniform_excess_and_polarity_keeps_abs_b(small):
    _, maps, kinds = cube(small, "flux_only")
    rms = maps.std(axis=(1, 2))
    ratio = np.exp(np.log(rms[kinds == "EAR"]).mean() - np.log(rms[kinds == "CR"]).mean())
    assert ratio == pytest.approx(small.interpret_validate.flux_only.excess, rel=0.35)
    _, maps, kinds = cube(small, "polarity")
    abs_ear, abs_cr = (np.abs(maps[kinds == k]).mean() for k in ("EAR", "CR"))
    assert abs_ear == pytest.approx(abs_cr, rel=0.15)            # the same |B|
    offsets = np.array([polarity_offset_px(m) for m in maps])
    hale = small.simulate.emergence.hale_leading_sign_north
    # Hale: the west (+x) disc has Hale's leading sign, so the positive flux lies on the
    # side of sign -hale and x(+) - x(-) has the sign of hale; anti-Hale the reverse
    assert (np.sign(offsets[kinds == "EAR"]) == hale).all()
    assert (np.sign(offsets[kinds == "CR"]) == -hale).all()


def polarity_offset_px(field_g, floor_g=30.0):
    """x of the positive-flux centroid minus x of the negative one (px; +x is west)."""
    x = np.arange(field_g.shape[1])[None, :]
    pos, neg = np.where(field_g > floor_g, field_g, 0), np.where(field_g < -floor_g, -field_g, 0)
    return float((pos * x).sum() / pos.sum() - (neg * x).sum() / neg.sum())


def test_only_location_has_ne_windows_in_ears(small):
    section = small.interpret_validate
    assert sampling_plan("location", section).ne_per_ear > 0
    assert all(sampling_plan(n, section).ne_per_ear == 0 for n in PLANTED_SETS
               if n != "location")
    planted = planted_set("flux_only", small)
    table = planted.data.table
    samples, tiles = table[table.subset == "sample"], table[table.subset == "tile"]
    assert (samples.label == (samples.kind == "EAR")).all()
    assert len(samples) == len(tiles)                 # every window scored out of fold
    assert sorted(table.fold.unique()) == list(range(section.n_folds))


def record(name, findings, passed, learned=True):
    return {"set": name, "findings": findings, "passed": passed, "learned": learned,
            "tss": {"estimate": 0.9, "low": 0.8, "high": 1.0},
            "measured": {"characteristic_radius_mm": [12.5, None], "planted_radius_mm": 10.0},
            "criterion": "c", "control": control_record(
                [{"fold": 0, "characteristic_radius_mm": None, "finds_planted": False}]),
            "n_regions": {"EAR": 4, "CR": 4}, "n_windows": 10, "figures": []}


def test_a_finding_whose_probe_failed_reads_probe_not_validated():
    validation = {"depth": 5, "config": "default", "sets": {
        "length_scale": record("length_scale", ["fig15_bipole_scale", "fig17_depth_scale"],
                               passed=False)}}
    checks = [{"id": "fig15_bipole_scale", "verdict": "no", "reproduced": False},
              {"id": "fig03_bipole", "verdict": "yes", "reproduced": True}]
    out = apply_validation(checks, validation)
    assert [c["verdict"] for c in out] == ["unvalidated", "unvalidated"]
    assert out[0]["criterion_met"] == "no" and "failed" in out[0]["probe"]
    assert ("its planted set (size_trend) is not among interpret_validate.sets"
            in probe_status(validation)["fig16_filters_vs_radius"]["text"])
    assert "flux_only_filters" in probe_status(validation)["fig12_filters_vs_mtot"]["text"]
    assert all(not s["validated"] for s in probe_status(None).values())
    text = "\n".join(planted_sections(validation))
    assert "Probe validated: **no**" in text and "R_c = 12.5, none Mm" in text


def test_a_passed_probe_keeps_the_verdict_on_our_data():
    validation = {"depth": 5, "config": "default", "sets": {
        "length_scale": record("length_scale", ["fig15_bipole_scale"], passed=True)}}
    out = apply_validation([{"id": "fig15_bipole_scale", "verdict": "no",
                             "reproduced": False}], validation)
    assert out[0]["verdict"] == "no" and out[0]["probe_validated"]


def test_a_validation_of_other_networks_or_without_the_set_validates_nothing():
    validation = {"time_h": -3.2, "depth": 5, "config": "fast", "sets": {
        "length_scale": record("length_scale", ["fig15_bipole_scale"], passed=True)}}
    now = {"time_h": -3.2, "depth": 5, "config": "default"}
    status = probe_status(validation, now)
    assert not status["fig15_bipole_scale"]["validated"]
    assert "config fast (now default)" in status["fig15_bipole_scale"]["text"]
    status = probe_status({**validation, "config": "default"}, now)
    assert status["fig15_bipole_scale"]["validated"]
    assert "location) is not among interpret_validate.sets" in status["fig18_occlusion"]["text"]


def test_missing_numbers_read_n_a_instead_of_crashing_the_report():
    flux = {**record("flux_only", ["fig24_output_vs_mtot"], passed=False),
            "measured": {"cnn_minus_da_mtot": {"estimate": None, "low": None, "high": None},
                         "spearman_output_mtot": None, "fraction_pe_top_bin": 0.5,
                         "fraction_ne_top_bin": None, "fraction_pe_bottom_bin": 0.1,
                         "fraction_ne_bottom_bin": 0.2},
            "control": {"cnn_minus_da_mtot": {"estimate": -0.5, "low": -0.7, "high": -0.3},
                        "spearman_output_mtot": None, "finds_planted": False}}
    text = "\n".join(planted_sections({"depth": 5, "config": "default",
                                       "sets": {"flux_only": flux}}))
    assert "rho(y, MTOT) n/a" in text and "n/a [n/a, n/a]" in text


def test_ne_radii_that_overlap_r_star_or_lie_all_below_it_are_refused(params):
    from preemergence.core.config import ParamsError
    for ranges, message in (([[8.0, 12.0], [16.0, 24.0]], "contains radius_mm 10"),
                            ([[3.0, 6.0]], "no range lies above radius_mm 10")):
        with pytest.raises(ParamsError, match=message):
            with_overrides(params, {"interpret_validate.length_scale.ne_radii_mm": ranges})


def test_a_criterion_edit_keeps_the_planted_networks_keys(small):
    edited = with_overrides(small, {"interpret_validate.criteria.min_planted_tss": 0.6})
    assert (planted_set("polarity", small).data.data_key
            == planted_set("polarity", edited).data.data_key)


def filters_record(fold_splits: list[bool], control_splits: bool) -> dict:
    folds = [{"fold": k, "slope_per_1e20_mx": [0.25, 0.2, -0.05 if s else 0.06, -0.04],
              "split_by_score": s} for k, s in enumerate(fold_splits)]
    found = all(fold_splits)
    return {**record("flux_only_filters", ["fig12_filters_vs_mtot"],
                     passed=found and not control_splits),
            "probe_found": found, "measured": {"folds": folds, "n_filters": 4},
            "control": control_record([{"fold": 0, "slope_per_1e20_mx": [-0.16, 0.1, -0.08, 0.19],
                                        "split_by_score": control_splits,
                                        "finds_planted": control_splits}])}


def test_the_pruned_filter_probe_reads_not_decided_when_folds_disagree():
    """Fig. 12 on planted flux only: a network that can only follow flux meeting the
    criterion on one fold and not on the other decides nothing about it."""
    mixed = filters_record([False, True], control_splits=False)
    validation = {"depth": 5, "config": "default", "sets": {"flux_only_filters": mixed}}
    status = probe_status(validation)["fig12_filters_vs_mtot"]
    assert not status["validated"] and "not decided" in status["text"]
    assert "fold 0 slopes +0.250, +0.200, +0.060, -0.040 per 1e20 Mx" in status["text"]
    text = "\n".join(planted_sections(validation))
    assert "### Planted flux_only_filters (validates Fig. 12)" in text
    assert "the slopes do not split by net score, as they should not" in text
    both = {"flux_only_filters": filters_record([True, True], control_splits=True)}
    text = "\n".join(planted_sections({"depth": 5, "config": "default", "sets": both}))
    assert "so did the negative control" in text and "split by net score for it too" in text
    assert probe_status({"sets": {"flux_only_filters": filters_record([True, True], False)}}
                        )["fig12_filters_vs_mtot"]["validated"]


def test_the_size_trend_probe_reads_fig16_correlations_per_fold_and_control():
    """Fig. 16 on planted size: correlations per fold in the report, 'not decided' when the
    folds disagree, the control read the same way."""
    folds = [{"fold": k, "radius_correlation": [0.9, 0.8, -0.5 if k else 0.4, -0.7],
              "split_by_score": bool(k)} for k in (0, 1)]
    mixed = {**record("size_trend", ["fig16_filters_vs_radius"], passed=False),
             "probe_found": False, "measured": {"folds": folds, "field_g": 100.0,
                                                "max_radius_mm": 30.0, "n_filters": 4},
             "control": control_record([{"fold": 0, "radius_correlation": [0.2, -0.3, 0.1, 0.5],
                                         "split_by_score": False, "finds_planted": False}])}
    validation = {"depth": 5, "config": "default", "sets": {"size_trend": mixed}}
    status = probe_status(validation)["fig16_filters_vs_radius"]
    assert not status["validated"] and "not decided" in status["text"]
    assert "only follow bipole size" in status["text"]
    assert ("fold 0 correlations with the radius of 100 G bipoles +0.90, +0.80, +0.40, -0.70"
            in status["text"])
    text = "\n".join(planted_sections(validation))
    assert "### Planted size_trend (validates Fig. 16)" in text
    assert "the correlations do not split by net score, as they should not" in text


def test_fig16_criterion_is_one_function_for_our_data_and_the_planted_set():
    from preemergence.interpret.binning import radius_correlations, slopes_split_by_score
    radii = np.arange(0, 62.5, 2.5)
    rising, falling = radii * 0.1, -radii * 0.2
    flat = np.zeros_like(radii)
    corr = radius_correlations(radii, [rising, rising + 1, falling, np.where(radii > 30, 9,
                                                                                  -radii)])
    assert corr[:3] == pytest.approx([1, 1, -1]) and corr[3] == pytest.approx(-1)
    assert slopes_split_by_score(corr)                  # radii > 30 Mm are not read
    assert radius_correlations(radii, [flat]) == [0.0]
    assert not slopes_split_by_score([0.5, -0.1, -0.2, -0.3])


def test_a_control_on_any_fold_that_finds_the_answer_unvalidates_the_probe(params):
    """The rule fixed before any run (docs/prune-and-interpret.md): one control network per
    control fold, each read on its own fold; the probe is validated only when none finds
    the planted answer, and the report names every control fold's number."""
    folds = [{"fold": 0, "characteristic_radius_mm": 25.0, "finds_planted": False},
             {"fold": 1, "characteristic_radius_mm": 10.0, "finds_planted": True}]
    r = {**record("length_scale", ["fig15_bipole_scale", "fig17_depth_scale"], passed=False),
         "probe_found": True, "control": control_record(folds), "control_folds": [0, 1]}
    assert r["control"]["finds_planted"]
    text = "\n".join(planted_sections({"depth": 5, "config": "default",
                                       "sets": {"length_scale": r}}))
    assert "(random labels within each kind, folds 0, 1): R_c = 25, 10 Mm per control fold" \
        in text
    assert "on at least one control fold, the bipole probe reports the planted radius" in text
    assert not control_record(folds[:1])["finds_planted"]
    with pytest.raises(ValueError, match="control_folds"):
        with_overrides(params, {"interpret_validate.control_folds": [0, 2]})
