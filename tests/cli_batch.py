"""Independent CLI cases run a few at a time, for the parametrized tests that start many.

A case is a function of its own fresh folder that starts its commands (``conftest.run_cli``)
one after another; different cases share no file, so running them side by side checks each
exactly as running them one by one would. A serial test session keeps one CPU busy while a
subprocess starts Python and Hydra, a fork server and its workers; a few cases at once fill
the other CPU and the waits.

The cases of the items pytest selected are all run on the first request for one of them
(a ``-k`` that selects one case runs that one only); each test then asserts on its own
case's outcome, so a failure still names its case.
"""

from concurrent.futures import ThreadPoolExecutor

AT_ONCE = 3  # cases side by side: each mostly waits on its subprocesses


class Batch:
    """``batch[case]`` -> what ``run(case)`` returned, for every selected case run ``AT_ONCE``
    at a time on the first look-up. An exception a case raised is raised again by its own
    look-up (and only there)."""

    def __init__(self, run, cases):
        self._run = run
        self._cases = list(dict.fromkeys(cases))
        self._outcomes = None

    def __getitem__(self, case):
        if self._outcomes is None:
            self._outcomes = {}
            with ThreadPoolExecutor(AT_ONCE) as pool:
                futures = {one: pool.submit(self._run, one) for one in self._cases}
            for one, future in futures.items():
                self._outcomes[one] = future
        if case not in self._outcomes:  # not among the selected items: run it alone
            with ThreadPoolExecutor(1) as pool:
                self._outcomes[case] = pool.submit(self._run, case)
        return self._outcomes[case].result()


def selected_cases(request, test, *names):
    """The parameter tuples (of ``names``) of the items of the test function ``test`` pytest
    selected in this session, in their order."""
    cases = []
    for item in request.session.items:
        if getattr(item, "function", None) is test and hasattr(item, "callspec"):
            cases.append(tuple(item.callspec.params[name] for name in names))
    return cases


def side_by_side(*calls):
    """Each call (of no argument; typically commands in folders of their own) run at once,
    ``AT_ONCE`` at a time -> their results in the order given; the first exception is raised."""
    with ThreadPoolExecutor(AT_ONCE) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]
