# stand-in for pycryptodome
