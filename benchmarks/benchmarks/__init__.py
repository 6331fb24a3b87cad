"""asv benchmark suites for fastinit (run from benchmarks/, see benchmarks/README.md)."""
