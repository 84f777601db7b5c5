"""The Performance Platform's own Python client (PyPI `performanceplatform-client` 0.11.5), unchanged.

It is Python-2-era code: its sdist does not install on Python 3 (it pins `pytz==2013d`), so
scripts/test.sh downloads and unpacks it into .local/pp-client and names the folder in
PP_CLIENT_DIR; its dependencies (requests, backoff, pytz) come from requirements.txt. The only
shim is `basestring`, which Python 3 no longer has.
"""

from __future__ import annotations

import builtins
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO_ROOT / ".local/pp-client/performanceplatform-client-0.11.5"


def data_set_class():
    folder = Path(os.environ.get("PP_CLIENT_DIR", DEFAULT_DIR))
    if not (folder / "performanceplatform" / "client" / "data_set.py").is_file():
        raise RuntimeError(f"performanceplatform-client 0.11.5 is not unpacked in {folder}: run the tests with scripts/test.sh")
    builtins.basestring = str  # the Python 3 shim
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    from performanceplatform.client.data_set import DataSet  # noqa: E402 - after the shim

    return DataSet
