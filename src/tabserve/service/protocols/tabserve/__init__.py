"""tabserve's own predict protocol: /predict and the model routes, JSON or CSV in and out."""
