"""The installed version of tether, found without importing anything else of the package."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tether")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
