"""A certificate authority made once per session, with a certificate it signs for 127.0.0.1."""

from __future__ import annotations

import pytest

from .support import Certificates, make_certificates


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))
