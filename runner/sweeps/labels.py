"""What tells a sweep's jobs apart, for messages that name a job: its own overrides."""


def swept(overrides_of_jobs):
    """Each job's overrides without those every job shares: what tells it from the others."""
    lists = [str(o or "").split() for o in overrides_of_jobs]
    shared = set.intersection(*map(set, lists)) if len(lists) > 1 else set()
    return [" ".join(o for o in job if o not in shared) for job in lists]
