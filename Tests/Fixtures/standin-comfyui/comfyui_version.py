# Stand-in: the real file holds the released version ("0.8.0").
__version__ = "0.8.0-standin"
