"""fieldkit: the gas-utility field technician's toolkit."""

__version__ = "0.1.0"
