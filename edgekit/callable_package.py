"""``edgekit.export`` and ``edgekit.profile`` are both packages (the export stages, the profiler) and functions of
the Python API (``edgekit.export(SOURCE, target=..., out=...)``). A package module whose class is
``CallablePackage`` is both: calling it calls ``edgekit.api.<name>``, and every import form of its modules
(``import edgekit.export.pipeline``, ``from edgekit.export import gate``) keeps working."""
from __future__ import annotations

import importlib
import sys
import types


class CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        api = importlib.import_module("edgekit.api")
        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


def make_callable(package_name: str) -> None:
    """Make the package ``edgekit.NAME`` callable as ``edgekit.api.NAME``."""
    sys.modules[package_name].__class__ = CallablePackage
