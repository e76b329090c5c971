"""One profiling configuration, measured in its own process (toolchain note section 10: thread pools, allocator
state and caches of one configuration must not leak into the next).

    python -m edgekit.profile.worker '<Job as JSON>'

prints one line ``EDGEKIT_RESULT {json}``: the timed model calls, the preprocessing and decode medians, and the
peak resident memory of this process (``VmHWM``, not the inherited ``ru_maxrss``), or ``{"error": "..."}`` for a user error.
"""
from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgekit.errors import EdgekitError

RESULT_PREFIX = "EDGEKIT_RESULT "
HOST_REPEATS = 50  # timed preprocess / decode calls (they are cheap and steady)


@dataclass(frozen=True)
class Job:
    source: str  # artifact folder, model file or registered name
    threads: int
    batch: int
    runs: int
    warmup: int
    choice: str | None = None  # file of an artifact folder (its manifest path)
    peer: str | None = None  # peer name: ``source`` is then the peer's file
    image: str | None = None  # image for preprocessing / decode timing (default: grace_hopper.jpg)
    raw: bool = False  # a file without edgekit's spec: the bare model call on ``input`` or random values
    input: str | None = None  # .npy batch for a raw file (``edgekit profile --input``)


def sample_image_path() -> Path:
    """matplotlib's bundled photo of Grace Hopper (a real frontal face, 512 x 600)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def _open(job: Job):
    """(runner, spec, decode: outputs -> (B, N, 2) crop px or (B, 3) degrees)."""
    from edgekit.runtime.decode import decode

    if job.peer:
        from edgekit.backend.tflite.runner import TFLiteRunner
        from edgekit.profile.peers import get_peer

        spec = get_peer(job.peer).spec
        runner = TFLiteRunner(job.source, job.threads, spec=spec).open()
    else:
        from edgekit.runtime.source import open_source

        runner, spec = open_source(job.source, job.threads, job.choice)
    return runner, spec, lambda outputs: decode(outputs, spec.head, spec.preprocess.input_size)


def _face_box(image: np.ndarray, spec):
    from edgekit.runtime.detect import get_detector
    from edgekit.runtime.preprocess import Box, box_from_detection

    faces = get_detector().detect(image)
    if not faces:  # profiling still works: the centre square of the image
        height, width = image.shape[:2]
        return Box((width - 1) / 2, (height - 1) / 2, float(min(width, height)))
    return box_from_detection(*faces[0][:4], spec.preprocess)


def measure(job: Job) -> dict:
    from edgekit.backend.base import preprocess_for
    from edgekit.data.images import load_image
    from edgekit.runtime.preprocess import preprocess, to_image

    runner, spec, decode = _open(job)
    image = load_image(job.image or sample_image_path())
    box = _face_box(image, spec)
    preprocessing = preprocess_for(spec.preprocess, runner)  # in the file's layout: no transpose per call
    preprocess_ms = _median_ms(lambda: preprocess(image, box, preprocessing), HOST_REPEATS)
    tensor, matrix = preprocess(image, box, preprocessing)
    batch = np.ascontiguousarray(np.repeat(tensor[None], job.batch, axis=0))
    samples = _time_calls(lambda: runner.infer(batch), job)
    outputs = runner.infer(batch)

    def finish() -> np.ndarray:  # the host work after the model call: decode, back to image pixels
        decoded = decode(outputs)
        return decoded if spec.task == "pose" else to_image(decoded, matrix)

    decode_ms = _median_ms(finish, HOST_REPEATS)
    max_batch = runner.max_batch  # known once open: a fixed-batch file runs a larger batch in chunks
    runner.close()
    return {"samples_ms": samples, "preprocess_ms": preprocess_ms, "decode_ms": decode_ms,
            "peak_rss_mb": peak_rss_mb(), "max_batch": max_batch}


def _time_calls(call: Callable[[], object], job: Job) -> list[float]:
    """Milliseconds of each of ``job.runs`` calls, after ``job.warmup`` untimed ones."""
    for _ in range(job.warmup):
        call()
    samples = []
    for _ in range(job.runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def measure_raw(job: Job) -> dict:
    """A file without edgekit's spec: only the model call, on ``job.input`` or random values of its shapes."""
    from edgekit.profile.rawfile import file_inputs, input_batch, load_input, open_call

    path = Path(job.source)
    feeds = input_batch(file_inputs(path), job.batch, load_input(job.input) if job.input else None)
    call = open_call(path, job.threads)
    samples = _time_calls(lambda: call(feeds), job)
    return {"samples_ms": samples, "preprocess_ms": None, "decode_ms": None, "peak_rss_mb": peak_rss_mb(),
            "max_batch": None}


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: ``VmHWM`` of /proc/self/status on Linux.

    Not ``ru_maxrss``: Linux carries the parent's peak across fork + exec into the child's ``ru_maxrss`` (the
    parent's address space is the one exec replaces), so every worker started by a 1.2 GB parent reported that
    parent's 1264 MB. ``VmHWM`` belongs to the worker's own address space. Elsewhere (macOS: bytes) ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def main(argv: list[str]) -> int:
    job = Job(**json.loads(argv[0]))
    try:
        result = measure_raw(job) if job.raw else measure(job)
    except EdgekitError as exc:
        result = {"error": str(exc)}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def job_json(job: Job) -> str:
    return json.dumps(dataclasses.asdict(job))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
