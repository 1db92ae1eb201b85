"""Operating a server: health, metrics, background tasks, pictures, the visualise page, drift and shadow."""
