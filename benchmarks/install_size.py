"""Disk size of a fresh venv per extra of edgekit-face (run once; minutes: it installs each from the package index).

    python benchmarks/install_size.py [--extras runtime,train,...]

Builds the wheel once, then for each extra: a new venv under a temporary folder, torch from PyTorch's CPU-only
index first where the extra needs it (as the Makefile does), ``pip install 'edgekit_face-*.whl[EXTRA]'``, and
``du`` of the venv; the venv is removed before the next. Writes docs/benchmarks/install_size.json and prints the
README's table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_CPU = ["--index-url", "https://download.pytorch.org/whl/cpu", "--extra-index-url", "https://pypi.org/simple"]
EXTRAS = {  # label -> extras ("" = the runtime alone)
    "runtime": "", "train": "train", "export": "export", "tflite": "tflite", "openvino": "openvino",
    "all,dev (make install)": "all,dev",
}
NEEDS_TORCH = ("train", "export", "tflite", "all")


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1e6


def pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args], check=True)


def measure(wheel: Path, extras: str, work: Path) -> dict:
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    empty = du_mb(venv)
    started = time.perf_counter()
    if any(name in extras.split(",") for name in NEEDS_TORCH):
        pip(venv, "--no-deps", "torch==2.13.0", *TORCH_CPU)  # as the Makefile: its dependencies from PyPI
    pip(venv, f"{wheel}[{extras}]" if extras else str(wheel))
    seconds = time.perf_counter() - started
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    packages = {p["name"].lower(): p["version"] for p in json.loads(listed)}
    size = du_mb(venv)
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    return {"extras": extras, "venv_mb": round(size, 1), "empty_venv_mb": round(empty, 1),
            "install_s": round(seconds), "packages": len(packages), "torch": packages.get("torch"),
            "jax": packages.get("jax")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default=",".join(EXTRAS), help="labels to measure, comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "install_size.json")
    args = parser.parse_args()
    labels = [label for label in EXTRAS if label.split(" ")[0] in args.extras.split(",") or label in args.extras]
    results = {}
    with tempfile.TemporaryDirectory(prefix="edgekit-install-size-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(work)],
                       check=True)
        (wheel,) = work.glob("edgekit_face-*.whl")
        for label in labels:
            results[label] = measure(wheel, EXTRAS[label], work)
            print(f"{label}: {results[label]}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"when": time.strftime("%Y-%m-%d"), "python": sys.version.split()[0],
                                    "results": results}, indent=2) + "\n")
    print("\n| install | venv size | packages | torch | jax |\n|---|---|---|---|---|")
    for label, r in results.items():
        print(f"| `{label}` | {r['venv_mb'] / 1000:.2f} GB | {r['packages']} | {r['torch'] or '-'} | "
              f"{r['jax'] or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
