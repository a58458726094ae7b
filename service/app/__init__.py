"""slant's HTTP service: ``create_app`` builds the FastAPI app; ``Settings`` reads ``SLANT_*``."""

from .main import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
