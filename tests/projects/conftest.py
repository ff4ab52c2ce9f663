"""API clients for the project-level tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def member_api(api_for, member_user):
    return api_for(member_user)


@pytest.fixture
def viewer_api(api_for, viewer_user):
    return api_for(viewer_user)
