"""``edgekit data check``: a folder scan as a report (text lines and a JSON-ready dict)."""
from __future__ import annotations

from pathlib import Path

from edgekit.data.folder import Problem, ScanResult, scan_folder
from edgekit.data.images import load_image
from edgekit.errors import DataError, printable


def _decode_problems(result: ScanResult) -> ScanResult:
    """Fully decode every image of the scan's samples; failures become problems and drop their samples."""
    failed: dict[Path, Problem] = {}
    for sample in result.samples:
        if sample.pixels is None and sample.image_path not in failed:
            try:
                load_image(sample.image_path)
            except DataError as exc:
                failed[sample.image_path] = Problem(sample.image_path, exc.message)
    if not failed:
        return result
    samples = [s for s in result.samples if s.image_path not in failed]
    problems = sorted([*result.problems, *failed.values()], key=lambda p: str(p.path))
    formats: dict[str, int] = {}
    for s in samples:
        formats[s.fmt] = formats.get(s.fmt, 0) + 1
    return ScanResult(result.root, samples, problems, formats, result.duplicates)


def check_folder(root: str | Path, decode: bool = False, recursive: bool = True) -> ScanResult:
    """``scan_folder``, plus a full decode of every image when ``decode``."""
    result = scan_folder(root, recursive=recursive)
    return _decode_problems(result) if decode else result


def report_lines(result: ScanResult) -> list[str]:
    """The printed report: root, formats, schemes, pose labels, count, one line per problem, summary."""
    formats = ", ".join(f"{name} {count}" for name, count in sorted(result.formats.items())) or "none"
    schemes = ", ".join(f"{name} {count}" for name, count in sorted(result.schemes.items())) or "none"
    pose = f"yes ({result.with_pose})" if result.with_pose else "no"
    lines = [f"root: {printable(str(result.root))}", f"formats: {formats}", f"schemes: {schemes}",
             f"pose labels: {pose}",
             f"count: {len(result.samples)}"]
    if result.duplicates:
        lines.append(f"duplicates: {result.duplicates} faces annotated in two formats, counted once")
    lines += [str(problem) for problem in result.problems]
    warnings = len(result.problems) - len(result.errors)
    lines.append(f"problems: {len(result.errors)}" + (f" (and {warnings} warnings)" if warnings else ""))
    return lines


def report_dict(result: ScanResult) -> dict:
    return {
        "root": str(result.root),
        "count": len(result.samples),
        "formats": result.formats,
        "schemes": result.schemes,
        "pose_labels": result.with_pose,
        "problems": [{"path": str(p.path), "message": p.message, "warning": p.warning} for p in result.problems],
    }
