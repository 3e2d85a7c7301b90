"""Running many jobs: the sweep's set-up, its launcher and composition cache, its summary."""
