import pytest

from tests.conftest import BASE_URL


@pytest.fixture
def deployed_site(settings):
    """A site whose own settings are clean, so every finding of ``oidc_doctor`` comes from the provider."""
    settings.SECRET_KEY = "a-real-secret-key-with-enough-randomness-0123456789abcdef"
    settings.ROMM_BASE_URL = BASE_URL
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.CSRF_TRUSTED_ORIGINS = [BASE_URL]
