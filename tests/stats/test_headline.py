"""The headline results block: read from the reports, never typed in; the README's copy is
the committed reports' block."""

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from preemergence.stats import headline

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = {"data": "synthetic", "schedule": "`default`", "machine": "a 2-core CPU",
           "commit": "abc", "date": "2026-12-03", "depth": 5, "folds": 5}
SETTINGS = SimpleNamespace(confidence=0.95, permutations=2000,
                           leakage_guard=SimpleNamespace(confidence=0.99))


def tss_rows():
    rows = [("cnn", 0.70), ("da_mtot", 0.63), ("abs_field", 0.67), ("cnn_depth1", 0.24),
            ("cnn_depth5", 0.70)]
    return pd.DataFrame([{"time_h": t, "method": m, "tss": v, "low": v - 0.06,
                          "high": v + 0.06, "fold_mean": v, "fold_std": 0.1}
                         for t in (-3.2, -8.5) for m, v in rows])


def statistics(low: float, fold_low: float = 0.01):
    return {"t-3.2h": {"cnn_minus_da_mtot": {"difference": 0.07, "low": low, "high": 0.13,
                                             "p_value": 0.02, "fold_difference": 0.07,
                                             "fold_low": fold_low, "fold_high": 0.13}},
            "t-13.9h": {"cnn_minus_da_mtot": {"difference": 0.3, "low": 0.1, "high": 0.5,
                                              "p_value": 0.01, "fold_difference": 0.3,
                                              "fold_low": 0.1, "fold_high": 0.5}},
            "leakage_guard": {"time_h": -3.2, "tss": 0.01, "low": -0.03, "high": 0.04,
                              "passed": True, "halfwidth_95": 0.027}}


def test_the_block_states_the_reports_numbers_and_verdicts():
    findings = {"fig03_bipole": "yes", "fig18_occlusion": "no", "fig24_output_vs_mtot":
                "inconclusive"}
    text = headline.block(tss_rows(), statistics(0.015), findings, SETTINGS, CONTEXT)
    assert text.startswith(headline.BEGIN) and text.rstrip().endswith(headline.END)
    assert "Data: **synthetic**" in text and "Machine: a 2-core CPU" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| CNN", "| MTOT analysis", "| \\|B\\| CNN",
                                                 "| depth-1 CNN"]      # depth 5 is the CNN
    assert rows[0] == "| CNN | 70.0 (64.0 to 76.0) | 70.0 ± 10.0 | 84.6 ± 6.4 % |"
    assert ("- At -3.2 h the CNN beats the MTOT analysis: +7.0 points, 95 % CI 1.5 to 13.0 "
            "over regions (p = 0.02), 1.0 to 13.0 across folds (training included).") in text
    assert "-13.9 h" not in text                           # verdicts at -3.2 and -8.5 h only
    # the block itself says that a verdict near a boundary is one machine's and one seed's
    assert headline.CAVEAT in text
    assert "change with the training seed and the CPU model" in headline.CAVEAT
    within_training = headline.block(tss_rows(), statistics(0.015, fold_low=-0.02), findings,
                                     SETTINGS, CONTEXT)
    assert ("- At -3.2 h the CNN beats the MTOT analysis: +7.0 points, 95 % CI 1.5 to 13.0 "
            "over regions (p = 0.02), -2.0 to 13.0 across folds (training included)."
            ) in within_training                 # the verdict reads the region bootstrap
    assert ("TSS 1.0 %, 99 % CI -3.0 to 4.0, 95 % half-width 2.7 points: passes"
            in text)                              # the guard's own confidence (params.yaml)
    assert ("1 of 3 of the paper's findings reproduced on these data (Fig. 3); not "
            "reproduced: Fig. 18, Table 4; inconclusive: Fig. 24") in text
    unclear = headline.block(tss_rows(), statistics(-0.01), findings, SETTINGS, CONTEXT)
    assert "the CNN and the MTOT analysis cannot be told apart" in unclear
    unvalidated = headline.findings_line({**findings, "fig17_depth_scale": "unvalidated"})
    assert unvalidated.startswith("1 of 4 of the paper's findings reproduced")
    assert "no verdict, the probe not validated on planted truth: Fig. 17" in unvalidated


def test_replace_block_swaps_only_the_block_and_names_a_file_without_one():
    old = f"intro\n{headline.BEGIN}\nold numbers\n{headline.END}\noutro\n"
    new = f"{headline.BEGIN}\nnew numbers\n{headline.END}\n"
    assert headline.replace_block(old, new) == f"intro\n{new}outro\n"
    with pytest.raises(ValueError, match="README.md: no results block"):
        headline.replace_block("no block here", new)



def committed(path: str) -> str:
    """A file as the last commit holds it (your `make run` rewrites reports/ in the working
    tree; the README states the committed reports); the working tree's without git."""
    import subprocess
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True,
                           text=True)
    return shown.stdout if shown.returncode == 0 else (ROOT / path).read_text()


def test_the_readme_states_the_committed_reports_results():
    """README.md's results block is reports/results.md, as `preemergence results --readme`
    wrote it: a README number that the committed reports do not hold fails here."""
    readme, block = committed("README.md"), committed("reports/results.md")
    assert headline.BEGIN in readme
    assert headline.replace_block(readme, block) == readme
