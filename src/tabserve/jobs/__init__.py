"""Training jobs: run in their own process, answered for by any replica, limited by the server config."""
