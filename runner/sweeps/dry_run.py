"""``runner.dry_run``: what a grid sweep would run and skip, without running anything.

A grid of a thousand jobs is read from its shape and its counts, not from a thousand lines:
``runner.dry_run=true`` prints the counts, the swept keys with their number of values, and the
first and last few jobs; ``runner.dry_run=all`` lists every job.
"""

from runner.text import counted

SHOWN = 5  # jobs listed at each end of the grid; the ones between are counted


def describe(cache, batches, ledger, mode, every=False):
    """The sweep's jobs, each marked run or skip (and why) -> the text to print."""
    from runner.sweeps import reuse
    from runner.sweeps.labels import swept
    from runner.sweeps.reuse import key_of_job

    jobs = [list(overrides) for batch in batches for overrides in batch]
    known, note = reuse.read_ledger(ledger, dry_run=True) if mode != "never" else (None, None)
    labels = swept(" ".join(job) for job in jobs)
    lines, skipped = [], 0
    for idx, (overrides, label) in enumerate(zip(jobs, labels, strict=True)):
        key = key_of_job(cache.load(overrides), idx)
        earlier = reuse.earlier_run(key, mode, ledger, known) if key else None
        label = label or " ".join(overrides)
        if earlier is None:
            lines.append(f"  job {idx:>4}  run   {label}")
            continue
        skipped += 1
        where = _relative(earlier["run_dir"])
        lines.append(f"  job {idx:>4}  skip  {label}  ({earlier['status']} in {where})")
    head = [
        f"dry run (runner.resume={mode}): {counted(len(jobs), 'job')}: "
        f"{len(jobs) - skipped} would run, {skipped} would be skipped as done; "
        "nothing was run or written",
        f"grid: {shape(jobs)}",
    ]
    if known is not None and known.unknown:
        rows = counted(known.unknown, "ledger row")
        head.append(f"({rows} without a run_key cannot be recognised)")
    if note:
        head.append(f"(note: {note})")
    return "\n".join([*head, *(lines if every else elided(lines))])


def shape(jobs):
    """``model 2 x seed 500 = 1000 jobs``: each key whose value differs between the jobs, with
    its number of values (a list of jobs that is not a full grid has fewer jobs than the
    product)."""
    values = {}
    for overrides in jobs:
        for override in overrides:
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    varied = [f"{key} {len(v)}" for key, v in values.items() if len(v) > 1]
    return f"{' x '.join(varied) or 'one job'} = {counted(len(jobs), 'job')}"


def elided(lines, shown=SHOWN):
    """The first and last ``shown`` lines, and how many lie between."""
    if len(lines) <= 2 * shown + 1:
        return lines
    between = counted(len(lines) - 2 * shown, "more job")
    return [
        *lines[:shown],
        f"  ... {between} (runner.dry_run=all lists every one)",
        *lines[-shown:],
    ]


def _relative(path):
    from runner.job import relative

    return relative(path)
