"""The planted-truth results in the interpretation report: whether each finding's probe is
validated (reports/interpret_validation.json, written by interpret-validate), and a section
per planted set with its numbers, criterion, negative control and figures."""

from __future__ import annotations

from preemergence.core.paper import FINDING_FIGURES
from preemergence.core.paths import INTERPRET_VALIDATE_FIGURES
from preemergence.interpret.report_tables import interval_text, number

PLANTED = {"length_scale": "EAR bipoles all of radius R*, CR bipoles of other radii with "
                           "the same flux distribution: size, not flux, separates the classes",
           "location": "one Hale-oriented bipole inside each EAR's emergence box, nothing "
                       "anywhere else: the signal lies in the box only",
           "flux_only": "PE = NE noise with a spatially uniform excess of unsigned flux, no "
                        "pattern: a CNN can do no better than the MTOT discriminant",
           "flux_only_filters": "the flux_only set and its networks, each pruned as the "
                                "prune stage does (to prune.final_filters filters): they "
                                "can only follow the amount of flux, but nothing planted "
                                "fixes how many filters rise or fall with it",
           "polarity": "Hale-oriented EAR bipoles, anti-Hale CR bipoles, the same |B|: a |B| "
                       "network must fail where a B network succeeds",
           "size_trend": "EAR bipoles all larger than CR bipoles, fields from one "
                         "distribution: at any one field, the larger the bipole, the more "
                         "likely PE, up to 30 Mm; the networks pruned as the prune stage "
                         "does (to prune.final_filters filters), and nothing planted fixes "
                         "how many filters rise or fall with size"}
FINDINGS = {"length_scale": ["fig15_bipole_scale", "fig17_depth_scale"],
            "location": ["fig18_occlusion", "fig03_bipole"],
            "flux_only": ["fig24_output_vs_mtot", "fig11_output_bins"],
            "flux_only_filters": ["fig12_filters_vs_mtot"],
            "polarity": ["table5_uniform_polarity"],
            "size_trend": ["fig16_filters_vs_radius"]}    # planted set -> findings it tests
NO_PLANTED_TRUTH = "no planted truth exists yet for this finding's probe"
# the pruned-filter probes (Figs. 12, 16): what the planted networks can only follow
FOLLOWS = {"flux_only_filters": "flux", "size_trend": "bipole size"}


def probe_status(validation: dict | None, expected: dict | None = None) -> dict:
    """{finding id: {"validated": bool, "text": reason}} for every finding of the report.
    expected: {"time_h", "depth", "config"} of the current parameters; a validation run
    with others validates nothing (it probed other networks)."""
    sets = (validation or {}).get("sets", {})
    stale = [f"{k} {validation.get(k)} (now {v})" for k, v in (expected or {}).items()
             if validation is not None and validation.get(k) != v]
    status = {}
    for finding in FINDING_FIGURES:
        tested = [r for r in sets.values() if finding in r["findings"]]
        planned = [name for name, found in FINDINGS.items() if finding in found]
        if validation is None:
            status[finding] = {"validated": False, "text": "interpret-validate has not run"}
        elif stale:
            status[finding] = {"validated": False, "text": "interpret-validate ran with "
                               "other parameters: " + ", ".join(stale) + "; run it again"}
        elif not tested:
            status[finding] = {"validated": False, "text": (
                f"its planted set ({', '.join(planned)}) is not among interpret_validate.sets"
                if planned else NO_PLANTED_TRUTH)}
        else:
            status[finding] = {"validated": all(r["passed"] for r in tested),
                               "text": "; ".join(_outcome(r) for r in tested)}
    return status


def _outcome(record: dict) -> str:
    tss = record["tss"]
    learned = f"planted-set TSS {interval_text(tss, digits=0)} %"
    if not record["learned"]:
        return f"{record['set']}: the CNN did not learn the planted set ({learned})"
    if record["passed"]:
        verdict = "passed"
    elif record["set"] in FOLLOWS and not record["probe_found"]:
        follows = FOLLOWS[record["set"]]
        verdict = (f"not decided: a network that can only follow {follows} met the criterion "
                   f"on some folds and not on others, so meeting it shows no more than "
                   f"{follows}")
        if not any(f["split_by_score"] for f in record["measured"]["folds"]):
            verdict = (f"failed: no fold's network that can only follow {follows} met the "
                       "criterion")
    elif record.get("probe_found", True):
        verdict = "failed: the probe found the planted answer, but so did the negative control"
    else:
        verdict = "failed: the probe did not find the planted answer"
    return f"{record['set']}: {verdict} ({measured_text(record)}; {learned})"


def measured_text(record: dict) -> str:
    """The probe's numbers on its planted set, in words."""
    m = record["measured"]
    if record["set"] == "length_scale":
        radii = ", ".join(number(r, "g", "none") for r in m["characteristic_radius_mm"])
        return f"R_c = {radii} Mm per fold for R* = {m['planted_radius_mm']:g} Mm"
    if record["set"] == "location":
        c = m["composite"]
        return (f"{_box_text(m)} over {m['n_ear']} EARs and {m['n_cr']} CRs; composite box "
                f"ratio {number(c['box_ratio'], '.1f')}, west/east "
                f"{number(c['west_mean_g'], '.1f')}/{number(c['east_mean_g'], '.1f')} G")
    if record["set"] == "flux_only":
        return (f"TSS(CNN) - TSS(DA MTOT) {interval_text(m['cnn_minus_da_mtot'])} points; "
                f"Spearman rho(y, MTOT) {number(m['spearman_output_mtot'])}; top bin PE/NE "
                f"{number(m['fraction_pe_top_bin'])}/{number(m['fraction_ne_top_bin'])}, "
                f"bottom {number(m['fraction_pe_bottom_bin'])}/"
                f"{number(m['fraction_ne_bottom_bin'])}")
    if record["set"] == "flux_only_filters":
        return slopes_text(m["folds"])
    if record["set"] == "size_trend":
        return correlations_text(m["folds"], m["field_g"])
    return (f"TSS(B) - TSS(|B|) {interval_text(m['b_minus_abs_field'])} points, TSS(|B|) "
            f"{interval_text(m['tss_abs_field'])} %; on location TSS(|B|) - TSS(B) "
            f"{interval_text(m['location_abs_field_minus_b'])} points")


def slopes_text(folds: list[dict]) -> str:
    """Slopes of <F_i> against MTOT per fold (filters ordered by S_i), per 1e20 Mx."""
    return "; ".join(f"fold {f['fold']} slopes " + ", ".join(
        f"{v:+.3f}" for v in f["slope_per_1e20_mx"]) + " per 1e20 Mx" for f in folds)


def correlations_text(folds: list[dict], field_g: float) -> str:
    """Correlations of F_i with radius per fold (filters ordered by S_i)."""
    return "; ".join(f"fold {f['fold']} correlations with the radius of {field_g:g} G "
                     "bipoles " + ", ".join(f"{v:+.2f}" for v in f["radius_correlation"])
                     for f in folds)


def _box_text(m: dict) -> str:
    return (f"EAR - CR: box output {interval_text(m['ear_minus_cr_box_output'], 1.0, 2)}, "
            f"occlusion box - outside "
            f"{interval_text(m['ear_minus_cr_box_minus_outside'], 1.0, 2)}")


def control_text(record: dict) -> str:
    """The negative control's numbers and what they say (docs/prune-and-interpret.md)."""
    c = record["control"]
    finds, does_not = CONTROL_READINGS[record["set"]]
    if not c["finds_planted"]:
        return f"{_control_numbers(record)}: {does_not}"
    return (f"{_control_numbers(record)}: "
            + ("on at least one control fold, " if "folds" in c else "") + finds)


def _control_numbers(record: dict) -> str:
    """The control networks' numbers: per control fold where each is read on its own fold
    ("folds"), pooled over the control folds otherwise (flux_only, polarity)."""
    c, name = record["control"], record["set"]
    folds = c.get("folds")             # None for the pooled controls (flux_only, polarity)
    if name == "length_scale":
        return "R_c = " + ", ".join(number(f["characteristic_radius_mm"], "g", "none")
                                    for f in folds) + " Mm per control fold"
    if name == "location":
        return "; ".join(f"fold {f['fold']}: {_box_text(f)}" for f in folds) + \
            " (true kinds)"
    if name == "flux_only":
        return (f"TSS(CNN) - TSS(DA MTOT) {interval_text(c['cnn_minus_da_mtot'])} points, rho "
                f"{number(c['spearman_output_mtot'])} (true labels)")
    if name == "flux_only_filters":
        return f"{slopes_text(folds)} (true labels)"
    if name == "size_trend":
        return f"{correlations_text(folds, record['measured']['field_g'])} (true labels)"
    return (f"TSS on the random labels it was trained on, for unseen regions, "
            f"{interval_text(c['tss'])} %")


CONTROL_READINGS = {        # set -> (what a control that finds the answer says, what one that
    "length_scale": (       # does not says)
        "the bipole probe reports the planted radius also for a network whose labels carried "
        "no information about it", "no characteristic radius near R*, as it should not"),
    "location": (
        "the probe singles out the box, of one sign or the other and as strongly as in the "
        "trained network, also in a network whose labels carried no information about the "
        "class (it shows what a network detects, not what it ties to emergence)",
        "no contrast, or one clearly smaller than the trained network's: the probe's answer "
        "depends on the labels learned"),
    "flux_only": ("the probe's criterion holds for it too",
                  "the probe's criterion does not hold, as it should not"),
    "flux_only_filters": (
        "the slopes split by net score for it too: with linear filters and a global max-pool "
        "every contribution scales with the field's amplitude, so the split shows how the "
        "filters' weights are signed, not what the network learned",
        "the slopes do not split by net score, as they should not"),
    "size_trend": (
        "the correlations split by net score for it too, so the split shows how the filters' "
        "weights are signed, not what the network learned",
        "the correlations do not split by net score, as they should not"),
    "polarity": (
        "skill without the planted labels (something about the evaluation regions reaches "
        "training); a random-label network cannot test the B - |B| comparison itself (its "
        "sign is arbitrary), whose built-in control is the converse on the location set",
        "no skill without the planted labels; a random-label network cannot test the B - |B| "
        "comparison itself (its sign is arbitrary), whose built-in control is the converse "
        "on the location set")}


def apply_validation(checks: list[dict], validation: dict | None,
                     expected: dict | None = None) -> list[dict]:
    """The checks with their probe's planted-truth status: a finding whose probe is not
    validated reads "probe not validated" (verdict "unvalidated"), whatever our number;
    whether its criterion was met on our data stays in "criterion_met"."""
    status = probe_status(validation, expected)
    out = []
    for c in checks:
        s = status[c["id"]]
        c = {**c, "criterion_met": c["verdict"], "probe_validated": s["validated"],
             "probe": s["text"]}
        if not s["validated"]:
            c.update(verdict="unvalidated", reproduced=False)
        out.append(c)
    return out


def _folds_text(folds) -> str:
    return ("fold " if len(folds) == 1 else "folds ") + ", ".join(str(k) for k in folds)


def planted_sections(validation: dict | None) -> list[str]:
    """Markdown: a section per planted set (what is planted, criterion, result, control,
    figures)."""
    if validation is None:
        return ["## Planted truths", "", "interpret-validate has not run: no probe is "
                "validated (`preemergence interpret-validate`, or `dvc repro`).", ""]
    lines = ["## Planted truths: each probe on data with a known answer", "",
             f"The probes of the findings above that have a planted truth were first run on "
             "small simulated sets where the answer is "
             f"planted (interpret/planted_sets.py; docs/simulator.md), with CNNs of depth "
             f"{validation['depth']}, schedule `{validation['config']}`, one per region fold, "
             "every region scored by a network that never saw it. The negative control is "
             "the same network trained on a random label per region, drawn within each kind. "
             f"Intervals: {100 * validation.get('confidence', 0.95):g} %, region bootstrap.",
             ""]
    for name, r in validation["sets"].items():
        findings = ", ".join(FINDING_FIGURES[f] for f in r["findings"])
        lines += [f"### Planted {name} (validates {findings})", "",
                  f"- Planted: {PLANTED[name]}; {r['n_regions']['EAR']} EARs and "
                  f"{r['n_regions']['CR']} CRs, {r['n_windows']} windows.",
                  f"- Criterion (fixed before running): {r['criterion']}.",
                  f"- Result: {_outcome(r)}.",
                  f"- Negative control (random labels within each kind, "
                  f"{_folds_text(r.get('control_folds', [0]))}): {control_text(r)}.",
                  f"- Probe validated: {'yes' if r['passed'] else '**no**'}.", ""]
        lines += [f"![{f}]({INTERPRET_VALIDATE_FIGURES}/{f})" for f in r["figures"]] + [""]
    return lines
