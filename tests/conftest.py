"""Session-wide test settings."""

import os

# OpenMP spinning on a busy 2-core machine costs ~100x; keep waits passive.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
