"""lrdif benchmarks (not installed with the wheel): `python -m benchmarks --help`.

Every latency / memory figure is measured in a fresh child process per (artifact, threads,
repeat), one runtime per process; see RESULTS.md for the last full run and its command.
"""
