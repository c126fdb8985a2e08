"""The teller's screening flow."""

# Imported for their routes on bp: 作废 and 查询 (desk), the drafts (draft_views).
from . import desk, draft_views  # noqa: F401
from .views import bp

__all__ = ["bp"]
