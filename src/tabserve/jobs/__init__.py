"""Training jobs: run in their own process, answered for by any replica, policed by the server's config."""
