"""The teller's screening flow."""

from . import desk  # noqa: F401 - adds 作废 and 查询 to the blueprint
from .views import bp

__all__ = ["bp"]
