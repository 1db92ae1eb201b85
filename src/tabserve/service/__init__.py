"""The HTTP service: a FastAPI app with a lean predict path, training jobs, models, plots, metrics.

Nothing here runs at import: ``app.create_app(settings)`` builds an app and
``server.run_server`` serves it.
"""
