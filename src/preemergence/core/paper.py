"""The paper's reference values (Dhuri et al. 2020), in one place. TSS in %.

Every report puts our numbers next to these; none of them is ever used as a result.
"""

from __future__ import annotations

TIME_BINS_H = (-3.2, -8.5, -13.9, -19.2, -24.5)

# Table 1: EARs, CRs, PE and NE segments per time bin.
TABLE1 = {-3.2: (178, 180, 17800, 18080), -8.5: (174, 165, 17400, 17115),
          -13.9: (173, 169, 17300, 17269), -19.2: (172, 167, 17200, 17117),
          -24.5: (158, 158, 15800, 15958)}

# Table 3: the depth-5 CNN, mean and std over 5 folds, per time bin.
CNN_TSS = ((84.57, 6.40), (61.97, 7.54), (48.68, 5.45), (40.80, 7.25), (43.30, 6.93))
TABLE3 = dict(zip(TIME_BINS_H, CNN_TSS))

# Table 2: TSS against depth at -3.2 h (mean only).
TABLE2 = {1: 8.89, 2: 52.29, 3: 70.34, 4: 82.33, 5: 84.57}

# Discriminant analysis at -3.2 h (Sect. 3), and its MTOT decision boundaries (1e20 Mx).
DA_MTOT_TSS_3H = (65.8, 4.5)
DA_MTOT_DM_TSS_3H = (75.6, 3.3)
DA = {"mtot": DA_MTOT_TSS_3H, "mtot_dm": DA_MTOT_DM_TSS_3H}
DA_BOUNDARIES_3H = "0.2, 2.7, 7.9, 20.2"

# App. C: pruning at -3.2 h.
PRUNE_TSS = {"pruned": (82.50, 4.52), "random": (34.71, 28.86), "n4": (78.38, 6.60),
             "pruned_n2": (68.9, 17.1), "unpruned": (84.57, 6.40)}

# The nine findings checked (interpret/report.py; interpret_metrics.json "findings"): the paper's
# figures each rests on.
FINDING_FIGURES = {"fig03_bipole": "Fig. 3",
                   "fig11_output_bins": "Figs. 10-11",
                   "fig12_filters_vs_mtot": "Fig. 12",
                   "fig15_bipole_scale": "Figs. 14-15",
                   "fig16_filters_vs_radius": "Fig. 16",
                   "fig17_depth_scale": "Fig. 17",
                   "fig18_occlusion": "Fig. 18, Table 4",
                   "table5_uniform_polarity": "Table 5",
                   "fig24_output_vs_mtot": "Fig. 24"}

# Table 5: the |B| CNN per time bin.
TABLE5 = {-3.2: (88.20, 4.78), -8.5: (60.07, 1.53), -13.9: (50.66, 7.32),
          -19.2: (43.89, 7.30), -24.5: (40.68, 2.03)}

# Not from the paper: the pre-emergence build-up in real HMI that the simulated precursor is
# checked against (solar/precursor_check.py). Kasapis et al. (2025, ApJS 280, 64), 54 ARs:
# mean |B| excess (G) of the emergence tile (~41 Mm) over its early level, emergence at 10 %
# of the peak excess; (median, lower quartile, upper quartile), None where not given.
KASAPIS_EXCESS_G = {-3.2: (14.6, 10.0, 20.0), -8.5: (5.4, 0.3, 11.6),
                    -13.9: (2.1, -1.1, 7.1), -19.2: (1.1, None, None),
                    -24.5: (0.7, None, None)}
# Fig. 3: the colour scale (G) of the average EAR at -3.2 h after the Hale/Joy flips.
FIG3_SCALE_G = 15.0
