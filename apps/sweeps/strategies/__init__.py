"""Sweep engines as pure functions of (config, finished runs): numpy only, no Django.

Each engine module exposes `suggest(config, finished, *, seed=None, pending=()) -> params`
(the interface of /work/shared/bench/hpo/hpo_bench.py); `space` parses the config.
"""
