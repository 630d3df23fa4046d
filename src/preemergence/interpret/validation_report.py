"""The planted-truth results in the interpretation report: whether each finding's probe is
validated (reports/interpret_validation.json, written by interpret-validate), and a section
per planted set with its numbers, criterion, negative control and figures."""

from __future__ import annotations

from preemergence.core.paper import FINDING_FIGURES
from preemergence.core.paths import INTERPRET_VALIDATE_FIGURES
from preemergence.interpret.report_tables import interval_text

PLANTED = {"length_scale": "EAR bipoles all of radius R*, CR bipoles of other radii with "
                           "the same flux distribution: size, not flux, separates the classes",
           "location": "one Hale-oriented bipole inside each EAR's emergence box, nothing "
                       "anywhere else: the signal lies in the box only",
           "flux_only": "PE = NE noise with a spatially uniform excess of unsigned flux, no "
                        "pattern: a CNN can do no better than the MTOT discriminant",
           "polarity": "Hale-oriented EAR bipoles, anti-Hale CR bipoles, the same |B|: a |B| "
                       "network must fail where a B network succeeds"}
NO_PLANTED_TRUTH = ("no planted truth exists yet for the pruned network's filter "
                    "contributions (it needs pruning on planted data)")


def probe_status(validation: dict | None) -> dict:
    """{finding id: {"validated": bool, "text": reason}} for every finding of the report."""
    sets = (validation or {}).get("sets", {})
    status = {}
    for finding in FINDING_FIGURES:
        tested = [r for r in sets.values() if finding in r["findings"]]
        if validation is None:
            status[finding] = {"validated": False, "text": "interpret-validate has not run"}
        elif not tested:
            status[finding] = {"validated": False, "text": NO_PLANTED_TRUTH}
        else:
            status[finding] = {"validated": all(r["passed"] for r in tested),
                               "text": "; ".join(_outcome(r) for r in tested)}
    return status


def _outcome(record: dict) -> str:
    tss = record["tss"]
    learned = (f"planted-set TSS {100 * tss['estimate']:.0f} % "
               f"[{100 * tss['low']:.0f}, {100 * tss['high']:.0f}]")
    if not record["learned"]:
        return f"{record['set']}: the CNN did not learn the planted set ({learned})"
    if record["passed"]:
        verdict = "passed"
    elif record.get("probe_found", True):
        verdict = "failed: the probe found the planted answer, but so did the negative control"
    else:
        verdict = "failed: the probe did not find the planted answer"
    return f"{record['set']}: {verdict} ({measured_text(record)}; {learned})"


def measured_text(record: dict) -> str:
    """The probe's numbers on its planted set, in words."""
    m = record["measured"]
    if record["set"] == "length_scale":
        radii = ", ".join("none" if r is None else f"{r:g}" for r in
                          m["characteristic_radius_mm"])
        return f"R_c = {radii} Mm per fold for R* = {m['planted_radius_mm']:g} Mm"
    if record["set"] == "location":
        c = m["composite"]
        return (f"{_box_text(m)} over {m['n_ear']} EARs and {m['n_cr']} CRs; composite box "
                f"ratio {c['box_ratio']:.1f}, west/east {c['west_mean_g']:.1f}/"
                f"{c['east_mean_g']:.1f} G")
    if record["set"] == "flux_only":
        return (f"TSS(CNN) - TSS(DA MTOT) {interval_text(m['cnn_minus_da_mtot'])} points; "
                f"Spearman rho(y, MTOT) {m['spearman_output_mtot']:.2f}; top bin PE/NE "
                f"{m['fraction_pe_top_bin']:.2f}/{m['fraction_ne_top_bin']:.2f}, bottom "
                f"{m['fraction_pe_bottom_bin']:.2f}/{m['fraction_ne_bottom_bin']:.2f}")
    return (f"TSS(B) - TSS(|B|) {interval_text(m['b_minus_abs_field'])} points, TSS(|B|) "
            f"{interval_text(m['tss_abs_field'])} %; on location TSS(|B|) - TSS(B) "
            f"{interval_text(m['location_abs_field_minus_b'])} points")


def _box_text(m: dict) -> str:
    return (f"PE - NE regions: box output {interval_text(m['ear_minus_cr_box_output'], 1.0, 2)}"
            f", occlusion box - outside "
            f"{interval_text(m['ear_minus_cr_box_minus_outside'], 1.0, 2)}")


def control_text(record: dict) -> str:
    c = record["control"]
    found = "found it (the probe cannot tell a trained network from an untrained one)" \
        if c["finds_planted"] else "did not find it, as it should not"
    if record["set"] == "length_scale":
        r = c["characteristic_radius_mm"]
        number = f"R_c = {'none' if r is None else f'{r:g} Mm'}"
    elif record["set"] == "location":
        number = (f"{_box_text(c)}, the regions split by the random labels the control "
                  "was trained on")
    elif record["set"] == "flux_only":
        number = (f"TSS(CNN) - TSS(DA MTOT) {interval_text(c['cnn_minus_da_mtot'])} points, "
                  f"rho {c['spearman_output_mtot']:.2f}")
    else:
        number = f"TSS on the random labels it was trained on {interval_text(c['tss'])} %"
    return f"{number}: the probe {found}"


def apply_validation(checks: list[dict], validation: dict | None) -> list[dict]:
    """The checks with their probe's planted-truth status: a finding whose probe is not
    validated reads "probe not validated" (verdict "unvalidated"), whatever our number;
    whether its criterion was met on our data stays in "criterion_met"."""
    status = probe_status(validation)
    out = []
    for c in checks:
        s = status[c["id"]]
        c = {**c, "criterion_met": c["verdict"], "probe_validated": s["validated"],
             "probe": s["text"]}
        if not s["validated"]:
            c.update(verdict="unvalidated", reproduced=False)
        out.append(c)
    return out


def planted_sections(validation: dict | None) -> list[str]:
    """Markdown: a section per planted set (what is planted, criterion, result, control,
    figures)."""
    if validation is None:
        return ["## Planted truths", "", "interpret-validate has not run: no probe is "
                "validated (`preemergence interpret-validate`, or `dvc repro`).", ""]
    lines = ["## Planted truths: each probe on data with a known answer", "",
             f"Every probe above was first run on small simulated sets where the answer is "
             f"planted (interpret/planted_sets.py; docs/simulator.md), with CNNs of depth "
             f"{validation['depth']}, schedule `{validation['config']}`, one per region fold, "
             "every region scored by a network that never saw it. The negative control is "
             "the same network trained on a random label per region. Intervals: 95 %, "
             "region bootstrap.", ""]
    for name, r in validation["sets"].items():
        findings = ", ".join(FINDING_FIGURES[f] for f in r["findings"])
        lines += [f"### Planted {name} (validates {findings})", "",
                  f"- Planted: {PLANTED[name]}; {r['n_regions']['EAR']} EARs and "
                  f"{r['n_regions']['CR']} CRs, {r['n_windows']} windows.",
                  f"- Criterion (fixed before running): {r['criterion']}.",
                  f"- Result: {_outcome(r)}.",
                  f"- Negative control (random region labels, fold 0): {control_text(r)}.",
                  f"- Probe validated: {'yes' if r['passed'] else '**no**'}.", ""]
        lines += [f"![{f}]({INTERPRET_VALIDATE_FIGURES}/{f})" for f in r["figures"]] + [""]
    return lines
