"""One exception tree for the whole harness.

Library code raises these (``raise ... from e``); only :mod:`harness.cli` turns them into
messages and exit codes. Every message should name the file, line or config key at fault.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness reports to a user (exit code 2)."""

    exit_code = 2


class ConfigError(HarnessError):
    """A config file or ``--set`` override is invalid."""


class DatasetError(HarnessError):
    """A dataset could not be loaded, or its contents are invalid."""


class TranslatorError(HarnessError):
    """A model could not be loaded or failed to translate."""


class ModelNotFoundError(TranslatorError):
    """A model is neither a local folder nor in the local cache, and the hub is unreachable."""


class MetricError(HarnessError):
    """A metric could not be computed (mismatched lengths, unknown metric, ...)."""


class RunFolderError(HarnessError):
    """A run folder is missing, incomplete or was written by an incompatible version."""


class CacheError(HarnessError):
    """The translation cache cannot be read or written (damaged, read-only, disk full)."""
