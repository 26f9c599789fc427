"""The package version, in a module that imports nothing (read by ``pyproject.toml``)."""

__version__ = "0.2.0"
