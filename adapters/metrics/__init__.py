"""Prometheus instrumentation: the metrics themselves and the port decorators that feed them."""
