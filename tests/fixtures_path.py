"""Location of the shared reference fixtures (../shared/fixtures beside the repository)."""

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
REFERENCE = FIXTURES / "deepfillv2_official_layout_reference.pt"
LAYOUTS = FIXTURES / "deepfillv2_port_state_dict_layouts.json"

needs_fixtures = pytest.mark.skipif(
    not REFERENCE.exists(), reason="../shared/fixtures is not beside the repository"
)
