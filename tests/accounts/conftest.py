import pytest

from tests.accounts.helpers import AdministratorActsMeanwhile


@pytest.fixture
def administrator_acts(settings):
    """``administrator_acts(action)``: ``action(user)`` runs inside the next password change,
    between loading the account and saving it."""
    validator = f"{AdministratorActsMeanwhile.__module__}.{AdministratorActsMeanwhile.__name__}"
    settings.AUTH_PASSWORD_VALIDATORS = [{"NAME": validator}]
    yield lambda action: setattr(AdministratorActsMeanwhile, "action", action)
    AdministratorActsMeanwhile.action = None
