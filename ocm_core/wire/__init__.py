"""The wire: bytes <-> typed messages, every limit; no I/O."""
