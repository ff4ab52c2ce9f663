import pytest

from tests.sso.idp import IdP


@pytest.fixture(scope="session")
def idp():
    server = IdP().start()
    yield server
    server.stop()


@pytest.fixture
def idp_normal(idp):
    idp.set_mode("normal")
    yield idp
    idp.set_mode("normal")
