"""asv suites for xpgrad; see README.md "Benchmarks". Workloads: xpgrad/bench_workloads/."""
