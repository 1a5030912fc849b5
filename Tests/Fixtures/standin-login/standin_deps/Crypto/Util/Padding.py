def unpad(data, block_size):  # stand-in for pycryptodome's
    return data[: -data[-1]]
