"""The teller's screening flow."""

from . import draft_views  # noqa: F401 - registers the draft routes on bp
from .views import bp

__all__ = ["bp"]
