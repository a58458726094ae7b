"""``python -m service.cli``: ``slant`` without its console script."""

from service.cli import app

if __name__ == "__main__":  # pragma: no cover - not when a spawned worker imports this as __mp_main__
    app()
