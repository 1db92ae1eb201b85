"""Managing models over HTTP: versions, promote, rollback, training jobs."""
