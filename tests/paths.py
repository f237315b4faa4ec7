"""Where the tests find the checkout and the bundled data (the package's own copy of data/)."""
from __future__ import annotations

from pathlib import Path

from repool.resources import bundled_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = bundled_data_dir()
