"""Deployments: when the repool flows run (served runner or prefect.yaml). Points at flows only."""
