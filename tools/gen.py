"""Generate gen/ from proto/: grpcio modules with .pyi stubs, the betterproto2 SDK, a descriptor set.

Usage::

    python tools/gen.py            # (re)write gen/
    python tools/gen.py --check    # exit 1 and name the files when gen/ is stale

Generation is deterministic: the same protos and the same pinned toolchain give the same bytes,
so ``--check`` compares a fresh generation in a temporary folder with what is committed.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GEN = ROOT / "gen"
WKT = Path(grpc_tools.__file__).parent / "_proto"


def _own_protos() -> list[str]:
    # Only TTA's own contracts are generated; google/api comes from googleapis-common-protos.
    return sorted(str(p.relative_to(PROTO)) for p in (PROTO / "tta").rglob("*.proto"))


def _protoc(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"-I{WKT}", *args, *_own_protos()]
    # betterproto2's plugin formats its output with `ruff` found on PATH: use the venv's pinned one.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, cwd=PROTO, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"protoc failed ({proc.returncode})")


def generate(out: Path) -> None:
    """Write the whole generated tree into ``out`` (which must be empty or absent)."""
    python = out / "python"
    sdk = out / "sdk" / "tta_sdk"
    python.mkdir(parents=True)
    sdk.mkdir(parents=True)
    bindir = Path(sys.executable).parent
    _protoc(
        [
            f"--python_out={python}",
            f"--pyi_out={python}",
            f"--grpc_python_out={python}",
            f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
            f"--mypy_grpc_out=quiet:{python}",
            f"--descriptor_set_out={python / 'tta' / 'descriptors.binpb'}",
            "--include_imports",
            "--include_source_info",
        ]
    )
    _protoc(
        [
            f"--plugin=protoc-gen-python_betterproto2={bindir / 'protoc-gen-python_betterproto2'}",
            f"--python_betterproto2_out=client_generation=sync_async:{sdk}",
        ]
    )
    # protoc writes modules, not packages: make every folder of the grpcio tree a regular package.
    for folder in [python / "tta", *sorted(p for p in (python / "tta").rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    (python / "tta" / "py.typed").touch()
    (sdk / "py.typed").touch()


def _diff(a: Path, b: Path) -> list[str]:
    def walk(cmp: filecmp.dircmp[str], prefix: str) -> list[str]:
        out = [f"{prefix}{n}" for n in cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files]
        for name, sub in sorted(cmp.subdirs.items()):
            out += walk(sub, f"{prefix}{name}/")
        return out

    return walk(filecmp.dircmp(a, b, ignore=["__pycache__"]), "gen/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when gen/ differs from a fresh generation")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        if opts.check:
            stale = _diff(fresh, GEN) if GEN.exists() else ["gen/ (missing)"]
            if stale:
                print("gen/ is stale; run `make gen` and commit. Differs:", *stale, sep="\n  ")
                return 1
            print("gen/ is up to date")
            return 0
        if GEN.exists():
            shutil.rmtree(GEN)
        shutil.copytree(fresh, GEN)
    print(f"wrote {GEN.relative_to(ROOT)}/ from {len(_own_protos())} proto files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
