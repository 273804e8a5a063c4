from __future__ import annotations

from pathlib import Path

import pytest

from lingxi import Library, Settings

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parent.parent / "demo" / "corpus"
SHARED = Path(__file__).parent.parent.parent / "shared" / "data"


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    library = Library(Settings.load(tmp_path / "home", threads=1))
    yield library
    library.close()


def shared_file(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"shared data {p} not present (expected beside the repo in ../shared/data)")
    return p
