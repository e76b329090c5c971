"""``edgekit build ARTIFACT``: the TensorRT engine of an artifact, built on the device that will run it."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

HELP = "Build an artifact's TensorRT engine on this device (--dry-run: print the trtexec line, no TensorRT needed)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", help="artifact folder (with edgekit.json) of a TensorRT target")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the planned engine name and the exact trtexec command, build nothing")
    parser.add_argument("--trt-version", metavar="V",
                        help="TensorRT version to build for instead of the target's (e.g. 8.6, 10.3)")
    parser.add_argument("--probe", action="store_true", help="build nothing: exit 0 when this edgekit can import "
                        "TensorRT, 1 otherwise (the Jetson bundle's build.sh then runs trtexec itself)")


def run(args: argparse.Namespace) -> int:
    from edgekit.artifact import MANIFEST, read_manifest
    from edgekit.errors import EdgekitError, SpecError
    from edgekit.backend.tensorrt.prepare import onnx_for_tensorrt
    from edgekit.specs import check_target

    if args.probe:
        return _probe()
    folder = Path(args.artifact)
    manifest = read_manifest(folder)
    target = manifest.target
    if target is None or target.tensorrt is None:
        name = target.name if target else "none"
        raise SpecError(f"the artifact's target ({name}) has no tensorrt section: nothing to build", folder)
    check_target(target, folder / MANIFEST)  # what the manifest says, before any work
    if args.trt_version:
        section = dataclasses.replace(target.tensorrt, version=args.trt_version)
        target = dataclasses.replace(target, tensorrt=section)
        try:
            check_target(target)
        except SpecError as exc:
            raise SpecError(f"--trt-version {args.trt_version}: {exc.message}", folder) from None
    try:
        onnx_entry = onnx_for_tensorrt(manifest, target.tensorrt)
    except EdgekitError as exc:
        raise exc.at(folder)
    from edgekit.backend.tensorrt.build import build, dry_run

    if args.dry_run:
        return dry_run(folder, manifest, target, onnx_entry.path)
    return build(folder, manifest, target, onnx_entry.path, explicit_version=bool(args.trt_version))


def _probe() -> int:
    """0 when TensorRT imports here (installed and its libraries load), else 1."""
    from edgekit.backend.tensorrt.loader import import_tensorrt
    from edgekit.errors import EdgekitError

    try:
        import_tensorrt()
    except EdgekitError:
        return 1
    return 0
