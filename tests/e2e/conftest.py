"""Fixtures for end-to-end tests (see e2e_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import Stack, build_stack


@pytest.fixture
def hubspot_stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    yield from build_stack("hubspot", tmp_path, store_url)


@pytest.fixture
def salesforce_stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    yield from build_stack("salesforce", tmp_path, store_url)


@pytest.fixture
def both_stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    yield from build_stack("both", tmp_path, store_url)
