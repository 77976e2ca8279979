"""asv suites for xpgrad; see docs/benchmarks.md. Workloads: xpgrad/bench_workloads/."""
