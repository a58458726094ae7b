"""The ``slant`` command: thin typer wrappers over importable functions.

One module per command group (``predict``, ``serve``, ``train``, ``label``, ``labels``,
``registry``, ``report``), the options they share in ``options`` and the app that gathers them in
``slant``. ``python -m service.cli`` runs it too (for ``accelerate launch -m service.cli train``).

>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["demo"]).exit_code  # doctest: +SKIP
0
"""

from .slant import app, main

__all__ = ["app", "main"]
