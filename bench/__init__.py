"""The performance benchmark of the reference server; see docs/performance.md."""
