"""Watching served models: drift against the training profile, the prediction log, shadow scoring."""
