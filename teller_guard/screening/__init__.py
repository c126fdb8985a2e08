"""The teller's screening flow."""

from .views import bp

__all__ = ["bp"]
