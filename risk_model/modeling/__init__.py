"""Training: snapshots and labels, split, LightGBM, calibration, scale, artefact, MLflow."""
