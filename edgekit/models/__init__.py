"""The torch model zoo. Importing this package registers every builder with ``edgekit.registry``."""
from edgekit.models import fsanet, hopenet, hourglass, mobilefan, pfld, pipnet, ssrnet  # noqa: F401  (registration)
from edgekit.models.base import FaceModel

__all__ = ["FaceModel"]
