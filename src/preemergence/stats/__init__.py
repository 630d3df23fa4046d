"""Statistics beyond the paper, computed from the stages' out-of-fold predictions.

resampling: region-bootstrap intervals of TSS and of paired differences, paired permutation
p-values; leakage: the label-permutation guard; repeats: repeated cross-validation;
report: tables, figure, metrics and statistics.md. See docs/statistics.md.
"""
