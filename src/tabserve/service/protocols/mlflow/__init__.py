"""MLflow's scoring protocol: /invocations, /ping, /health, /version."""
