# stand-in for cryptography (aiohttp_session[secure] pulls it in)
