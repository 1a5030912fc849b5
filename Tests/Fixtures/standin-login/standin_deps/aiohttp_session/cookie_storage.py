# stand-in for aiohttp_session.cookie_storage: as the real one, it needs the [secure] extra (cryptography)
from aiohttp import web  # noqa: F401
from cryptography import fernet  # noqa: F401
from cryptography.fernet import InvalidToken  # noqa: F401


class EncryptedCookieStorage:
    def __init__(self, secret_key, **kwargs):
        self.fernet = fernet.Fernet(secret_key)
