"""The CNN, its input pipeline, training, the one predict path, keyed runs, cross-validation,
pruning, the discriminant analysis, and the training stages' reports."""
