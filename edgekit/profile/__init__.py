"""Latency and memory profiling: every model file x backend x precision x threads x batch, each configuration
in its own process (``measure``), MACs from the graph (``flops``), on-device numbers from adb (``adb``) and
trtexec logs (``trtexec``), peers such as MediaPipe's face mesh (``peers``), tables and plots (``report``)."""

from edgekit.callable_package import make_callable

make_callable(__name__)  # edgekit.profile(...) is edgekit.api.profile: the Python API
