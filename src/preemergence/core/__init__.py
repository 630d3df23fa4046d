"""The base layer: constants, parameters, file names, the paper's values, atomic writing,
MLflow tracking, progress, TSS, shared figures, hardware, errors. Imports nothing above it."""
