"""Training jobs: started in their own process, answered for by any replica, policed by the config."""
