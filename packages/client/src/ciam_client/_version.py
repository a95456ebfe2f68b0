"""The SDK's version, read from the installed distribution so that it has one source."""

from importlib.metadata import version

__version__ = version("ciam-client")
