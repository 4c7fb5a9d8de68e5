"""Neural metrics (COMET family, MetricX-24) computed with plain transformers."""
