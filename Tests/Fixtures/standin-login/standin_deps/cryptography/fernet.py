class InvalidToken(Exception):  # stand-in for cryptography.fernet
    pass


class Fernet:
    def __init__(self, key):
        self.key = key
