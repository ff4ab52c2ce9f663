"""Sweep engines as pure functions of (config, finished runs): numpy only, no Django.

The same code suggests trials on the server (apps/sweeps/controller.py) and in
`gradline agent --local` (gradline/sweeps_local.py): `history.suggest_next` is the one
"history -> next suggestion" step both call. Each engine module exposes
`suggest(config, finished, *, seed=None, pending=()) -> params` (the interface of the
shared HPO harness, ../shared/bench/hpo/hpo_bench.py); `space` parses the config.

numpy is an optional dependency of the SDK: `pip install 'gradline[sweeps]'`.
"""

try:
    import numpy  # noqa: F401
except ImportError:  # pragma: no cover - the test environments have numpy
    from gradline.transport import UsageError

    raise UsageError(
        "the sweep engines (gradline agent --local) need numpy: "
        "pip install 'gradline[sweeps]' (or pip install numpy)"
    ) from None
