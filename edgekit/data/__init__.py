"""Face data: landmark schemes, Samples, image loading, readers per annotation format, folder scans and
synthetic faces. Needs only numpy, OpenCV and SciPy."""
from edgekit.data.folder import Problem, ScanResult, scan_folder
from edgekit.data.images import IMAGE_SUFFIXES, load_image
from edgekit.data.sample import Sample
from edgekit.data.schemes import SCHEMES, Scheme, get_scheme, scheme_for_count

__all__ = ["IMAGE_SUFFIXES", "SCHEMES", "Problem", "Sample", "ScanResult", "Scheme", "get_scheme", "load_image",
           "scan_folder", "scheme_for_count"]
