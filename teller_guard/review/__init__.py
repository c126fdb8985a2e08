"""Branch security's review area."""

from .views import bp

__all__ = ["bp"]
