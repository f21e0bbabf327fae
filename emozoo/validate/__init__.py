"""Data validation in the TFX formats, without tf-data-validation.

Statistics (``DatasetFeatureStatisticsList``), schemas (``Schema``) and
anomalies (``Anomalies``) are tensorflow-metadata protos written by emozoo;
drift between datasets is per-feature (and per-dimension) Jensen-Shannon
divergence / L-infinity distance. See ``python -m emozoo.validate --help``.
"""
from emozoo.validate.anomalies import ExampleChecker, Finding, findings, has_anomalies, validate_statistics
from emozoo.validate.drift import DriftResult, dimension_drift, js_divergence, stats_drift
from emozoo.validate.schema import infer_schema, load_schema, save_schema
from emozoo.validate.statistics import StatisticsBuilder, compute_manifest_statistics, compute_statistics
from emozoo.validate.validator import (ValidationResult, load_statistics, validate_manifest, validate_store,
                                       write_outputs)

__all__ = [
    "ExampleChecker", "Finding", "findings", "has_anomalies", "validate_statistics",
    "DriftResult", "dimension_drift", "js_divergence", "stats_drift",
    "infer_schema", "load_schema", "save_schema",
    "StatisticsBuilder", "compute_manifest_statistics", "compute_statistics",
    "ValidationResult", "load_statistics", "validate_manifest", "validate_store", "write_outputs",
]
