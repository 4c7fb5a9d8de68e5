"""Decide once, before any hub library is imported, whether the Hugging Face hub is reachable.

huggingface_hub and datasets retry an unreachable hub for about 23 s per file, printing a
warning at every retry, before they give up. A machine with no route to the hub should instead
work from its local cache at once: when a short probe fails, this sets HF_HUB_OFFLINE and
HF_DATASETS_OFFLINE (read by those libraries at import time), so cached models and data sets
load as usual and missing ones fail fast with the harness's own message.

The commands ask for the probe with :func:`decide_when_needed`: it runs the first time the
process needs the answer (a hub library is about to be imported, or :func:`offline_requested`
is asked), so a run that touches no hub (a rerun of local models on local files) opens no
connection at all: on a networked machine the probe is a round trip, and where packets to the
hub are dropped it waits for its whole timeout.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import socket
import sys
from urllib.parse import urlparse

log = logging.getLogger(__name__)

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
_TRUE = {"1", "true", "yes", "on"}
_SET_BY_HARNESS = "HARNESS_SET_HF_OFFLINE"
# The libraries that read the offline variables when they are imported.
_HUB_LIBRARIES = ("huggingface_hub", "datasets", "transformers")


def offline_reason() -> str:
    """Why the hub is not used, for error messages."""
    _decide_if_pending()
    if os.environ.get(_SET_BY_HARNESS):
        return "the hub did not answer"
    if offline_requested():
        return "HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set"
    return "the hub could not be reached"


def offline_requested() -> bool:
    _decide_if_pending()
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in OFFLINE_VARIABLES)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub endpoint (HF_ENDPOINT) opens within ``timeout``.

    Behind a proxy a direct connection proves nothing, so the hub is then assumed reachable.
    """
    if any(os.environ.get(v) for v in _PROXY_VARIABLES):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def go_offline_if_unreachable(timeout: float = 3.0) -> bool:
    """Probe the hub unless offline mode is already set; set offline mode if it fails.

    Returns True when the process now works offline. Has no effect once huggingface_hub or
    datasets is imported (they read the variables at import): commands ask for it through
    :func:`decide_when_needed`, which runs it just before.
    """
    _ProbeBeforeHubImport.remove()
    if offline_requested():
        return True
    if any(name in sys.modules for name in _HUB_LIBRARIES):
        return False
    if hub_reachable(timeout):
        return False
    for variable in OFFLINE_VARIABLES:
        os.environ[variable] = "1"
    os.environ[_SET_BY_HARNESS] = "1"  # so that error messages can say why
    log.info("the Hugging Face hub is unreachable: using local folders and the local cache only")
    return True


def decide_when_needed(timeout: float = 3.0) -> None:
    """Have :func:`go_offline_if_unreachable` run the first time this process needs its answer
    (see the module docstring)."""
    _ProbeBeforeHubImport.install(timeout)


def _decide_if_pending() -> None:
    finder = _ProbeBeforeHubImport.installed()
    if finder is not None:
        go_offline_if_unreachable(finder.timeout)  # removes the finder first


class _ProbeBeforeHubImport(importlib.abc.MetaPathFinder):
    """Probes the hub just before the first hub library is imported, then steps aside: it
    finds nothing itself, so the import goes on as usual, with the variables now set."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.partition(".")[0] in _HUB_LIBRARIES:
            _decide_if_pending()
        return None

    @classmethod
    def installed(cls) -> _ProbeBeforeHubImport | None:
        return next((f for f in sys.meta_path if isinstance(f, cls)), None)

    @classmethod
    def install(cls, timeout: float) -> None:
        if cls.installed() is None:
            sys.meta_path.insert(0, cls(timeout))

    @classmethod
    def remove(cls) -> None:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, cls)]
