"""Running many jobs: the sweep's set-up in the launching process and its summary."""
