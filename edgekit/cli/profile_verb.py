"""``edgekit profile``: latency, throughput, memory, size and MACs of model files, one process per configuration."""
from __future__ import annotations

import argparse

from edgekit.cli import args as types
from edgekit.cli.output import add_json_flag, check_json_file, emit, json_file, json_to_stdout

HELP = "Profile latency / memory of artifacts and model files (each configuration in its own process)."
UNKNOWN_INPUT = (256, 256)  # (width, height) assumed when a file's input size is not known before it opens
COPIES = 3  # float32 input batches held at once: ours, the runtime's copy, outputs and activations (about)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgekit.profile.peers import PEERS

    parser.add_argument("sources", nargs="*", metavar="ARTIFACT_OR_FILE",
                        help="artifact folders, .onnx/.tflite/.engine/.safetensors files or registered model names")
    parser.add_argument("--threads", type=types.int_list(types.MAX_THREADS), default=(1,), help="thread counts, "
                        "e.g. 1,2,4 (1 is the stable reference)")
    parser.add_argument("--batch", type=types.int_list(types.MAX_BATCH), default=(1,), help="batch sizes, e.g. 1,8 "
                        f"(TFLite: 1 only; at most {types.MAX_BATCH}, and what this machine's memory holds)")
    parser.add_argument("--runs", type=types.runs, default=200, help="timed calls per configuration")
    parser.add_argument("--warmup", type=types.warmup, default=20, help="untimed calls first")
    parser.add_argument("--baseline", help="file label the ratio column divides by (default: the first)")
    parser.add_argument("--peer", action="append", choices=sorted(PEERS), default=[],
                        help="add a peer model, e.g. mediapipe (face_landmark.tflite from mediapipe 0.10.21)")
    parser.add_argument("--image", help="image for preprocessing/decode timing (default: grace_hopper.jpg)")
    parser.add_argument("--input", metavar="X.npy", help="input values for files without edgekit's spec (one "
                        "sample or a batch of 1, repeated to --batch; default: random values of the file's shapes)")
    add_json_flag(parser, "all results (with every timed call)")
    parser.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    parser.add_argument("--plot", metavar="FILE.png", help="write a latency-distribution box plot (PNG)")
    parser.add_argument("--adb", action="store_true", help="also time .tflite files on an Android device "
                        "with benchmark_model (prints the commands when none is attached)")
    parser.add_argument("--trtexec-log", action="append", default=[], metavar="FILE",
                        help="add trtexec's timing summary from this log to the table")
    parser.add_argument("--record", action="store_true", help="write each artifact's host rows into its manifest "
                        "(checks.profile); without it, artifacts are left as they are")


def run(args: argparse.Namespace) -> int:
    from edgekit.artifact import provenance
    from edgekit.errors import EdgekitError
    from edgekit.profile import measure, report

    if not (args.sources or args.peer or args.trtexec_log):
        raise EdgekitError("nothing to profile: give artifact folders / model files, --peer or --trtexec-log")
    check_outputs(args)
    files = [f for source in args.sources for f in measure.model_files(source)]
    check_batch_memory(files, max(args.batch))
    check_input(args.input, files)
    files += [measure.peer_file(name) for name in args.peer]
    settings = measure.Settings(threads=args.threads, batches=args.batch, runs=args.runs, warmup=args.warmup,
                                image=args.image, input=args.input)
    rows = measure.profile_files(files, settings)
    if args.adb:
        tflites = [(f.path, f.label, f.precision, measure.static_facts(f)) for f in files if f.backend == "tflite"]
        rows += _adb_rows(tflites, settings)
    rows += [_trtexec_row(path) for path in args.trtexec_log]
    rows = report.with_ratios(rows, args.baseline)
    if not json_to_stdout(args):
        print(report.format_table(rows))
    context = {"tool": "edgekit profile", "runs": args.runs, "warmup": args.warmup, **_host(provenance)}
    try:
        _write_outputs(args, rows, context)
    except OSError as exc:  # a full disk: the atomic write left nothing half-written
        raise EdgekitError(f"cannot write ({exc.strerror})", exc.filename) from None
    artifacts = {f.label: f.artifact for f in files if f.artifact is not None} if args.record else {}
    for path in report.record_in_artifacts(rows, artifacts, context):
        print(f"recorded in {path} (checks.profile)")
    return 0


def check_outputs(args: argparse.Namespace) -> None:
    """--json, --csv and --plot are writable files, checked before anything is measured."""
    from edgekit.outputs import check_output_file

    inputs = (*args.sources, *args.trtexec_log, *(f for f in (args.image, args.input) if f))
    check_json_file(args, inputs)
    for flag, suffixes in (("csv", None), ("plot", (".png",))):
        if getattr(args, flag):
            check_output_file(getattr(args, flag), f"--{flag}", suffixes=suffixes, inputs=inputs)


def check_input(path: str | None, files) -> None:
    """--input: a readable .npy that fits every file without edgekit's spec it would feed (one line otherwise)."""
    from edgekit.errors import EdgekitError
    from edgekit.profile.rawfile import input_batch, load_input

    if path is None:
        return
    given = load_input(path)
    for file in [f for f in files if f.raw]:
        try:
            input_batch(file.inputs, 1, given)
        except EdgekitError as exc:
            raise EdgekitError(f"{exc.message} in {file.label}", path) from None


def check_batch_memory(files, batch: int) -> None:
    """Refuse a --batch whose float32 inputs this machine cannot hold, before a worker allocates them."""
    if batch == 1 or not files:
        return
    width, height = max((_input_size(f) for f in files), key=lambda size: size[0] * size[1])
    types.check_memory(COPIES * batch * 3 * width * height * 4,
                       f"--batch {batch} ({width}x{height}x3 float32 inputs per face, {COPIES} copies)")


def _input_size(file) -> tuple[int, int]:
    """(width, height) of a file's input from its artifact's manifest or its embedded spec; a default guess for
    registered names, peers and files whose spec cannot be read here (the worker reports those)."""
    from edgekit.errors import EdgekitError

    if file.raw:
        return _image_size(file.inputs[0].shape)
    try:
        if file.artifact is not None:
            from edgekit.artifact import read_manifest

            return tuple(read_manifest(file.artifact, verify=False).model.preprocess.input_size)
        if file.path is not None and file.path.suffix == ".onnx":
            from edgekit.backend.onnxruntime.loader import spec_from_onnx

            return tuple(spec_from_onnx(file.path).preprocess.input_size)
    except EdgekitError:
        pass
    return UNKNOWN_INPUT


def _image_size(shape: tuple[int | None, ...]) -> tuple[int, int]:
    """(width, height) of an NCHW or NHWC image input read from a file without edgekit's spec (channels: the
    small dimension); the default guess for any other shape."""
    if len(shape) != 4 or None in shape[1:]:
        return UNKNOWN_INPUT
    _, first, second, third = shape
    return (third, second) if first <= 4 else (second, first)  # NCHW: C, H, W after the batch; NHWC: H, W, C


def _adb_rows(tflites, settings):
    from edgekit.backend.tflite.adb import adb_measurements

    return adb_measurements(tflites, settings.threads, settings.runs, settings.warmup)


def _trtexec_row(path: str):
    from edgekit.backend.tensorrt.trtexec_log import trtexec_measurement

    return trtexec_measurement(path)


def _host(provenance) -> dict:
    import os

    info = provenance("edgekit profile")
    return {"host": info["host"], "cpu_count": os.cpu_count(), "created": info["created"],
            "versions": info["versions"]}


def _write_outputs(args: argparse.Namespace, rows, context: dict) -> None:
    from edgekit.profile import report

    emit(args, {**context, "results": [report.as_dict(r) for r in rows]})
    if json_file(args):
        print(f"wrote {json_file(args)}")
    if args.csv:
        print(f"wrote {report.write_csv(args.csv, rows)}")
    if args.plot:
        written = report.write_plot(args.plot, rows)
        print(f"wrote {written}" if written else "no host measurement to plot")
