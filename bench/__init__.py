"""`make bench`: Nil's speed, measured side by side in one run (see docs/performance.md)."""
