#!/usr/bin/env python3
"""Pull a ~1 GiB image from a loopback registry with regtui and its peers; print ratios.

    .venv/bin/python bench/pull_vs_peers.py [--runs 5] [--size-mb 1024] [--jobs 4]

Starts CNCF distribution (``docker-registry``) on 127.0.0.1 with a temporary storage dir,
seeds one linux/amd64 image of ~1 GiB in 11 mostly-incompressible layers of uneven sizes
(pushed with skopeo from an OCI layout generated here), then alternates, each run into a
fresh destination:

* ``regtui pull`` (the CLI, a separate process, quiet);
* ``skopeo copy docker://… oci:…``;
* python-dxf: ``DXF.pull_blob`` for every blob in 4 threads, verified, written to files
  (the fastest peer we found; 1 MiB chunks, its best setting).

Prints the median wall time of each, the ratios, and regtui's peak RSS (from wait4).
Needs the ``bench`` extra (python-dxf) and the ``docker-registry`` and ``skopeo`` packages.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.registry import start_registry  # noqa: E402

# One big layer, several mid-sized, a few tiny (MB), summing to ~1 GiB at --size-mb 1024.
LAYER_SHARES_MB = [400, 150, 120, 100, 90, 70, 50, 0.02, 0.005, 0.3, 0.001]


class _RandomReader(io.RawIOBase):
    """``size`` deterministic pseudo-random bytes, produced as they are read."""

    def __init__(self, size: int, seed: int) -> None:
        self.left, self.rng = size, random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self.left, 1 << 20)
        b[:n] = self.rng.randbytes(n)
        self.left -= n
        return n


def _write_layer(path: Path, size: int, seed: int) -> None:
    """A gzip'd tar holding ``size`` random bytes (stored blocks: incompressible, fast)."""
    with (
        gzip.GzipFile(path, "wb", compresslevel=0, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        info = tarfile.TarInfo(f"data/blob-{seed}.bin")
        info.size, info.mtime = size, 1_700_000_000
        tar.addfile(info, io.BufferedReader(_RandomReader(size, seed)))


def _digest_file(path: Path, opener=open) -> str:  # type: ignore[no-untyped-def]
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def build_layout(path: Path, total_mb: float) -> list[tuple[str, int]]:
    """Write an OCI layout with the bench image; return (digest, size) of every blob."""
    scale = total_mb / sum(LAYER_SHARES_MB)
    blobs_dir = path / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True)
    layers, diff_ids, blobs = [], [], []
    for i, mb in enumerate(LAYER_SHARES_MB):
        tmp = blobs_dir / "tmp"
        _write_layer(tmp, max(1, int(mb * scale * 1_000_000)), i)
        digest = _digest_file(tmp)
        size = tmp.stat().st_size
        tmp.rename(blobs_dir / digest.split(":")[1])
        layers.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
        )
        diff_ids.append(_digest_file(blobs_dir / digest.split(":")[1], gzip.open))
        blobs.append((digest, size))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
        }
    ).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    (blobs_dir / config_digest).write_bytes(config)
    blobs.append((f"sha256:{config_digest}", len(config)))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_digest}",
                "size": len(config),
            },
            "layers": layers,
        }
    ).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    (blobs_dir / manifest_digest).write_bytes(manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (path / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{manifest_digest}",
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "1.0"},
                    }
                ],
            }
        )
    )
    return blobs


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB of that process).

    Dirty pages of the previous run are written out first (not timed), so no tool pays
    for another's writeback.
    """
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err}")
    return elapsed, usage.ru_maxrss // 1024


TOOL_DIRS = {"regtui": "regtui", "skopeo": "skopeo", "python-dxf": "dxf"}

DXF_SCRIPT = """
import hashlib, sys
from concurrent.futures import ThreadPoolExecutor
from dxf import DXF
host, repo, dest, *blobs = sys.argv[1:]
def fetch(item):
    digest, size = item.split("=")
    d = DXF(host, repo, insecure=True)
    with open(f"{dest}/{digest.split(':')[1]}", "wb") as f:
        for chunk in d.pull_blob(digest, chunk_size=1024 * 1024):  # verifies the sha256
            f.write(chunk)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(fetch, blobs))
"""


def precompile() -> None:
    """Write regtui's bytecode, as installing a package does.

    Run from a checkout with ``PYTHONDONTWRITEBYTECODE`` set (as on the development
    machine), every ``regtui`` process compiled its modules from source: ~95 ms of each
    pull's start-up that an installed copy (like python-dxf, compiled by pip) never pays.
    """
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            str(Path(__file__).resolve().parent.parent / "regtui"),
        ],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--skip", nargs="*", default=[], choices=["skopeo", "dxf"])
    args = parser.parse_args()
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install docker-registry skopeo)")
    python = sys.executable
    regtui = [python, "-m", "regtui"]
    precompile()
    with tempfile.TemporaryDirectory(prefix="regtui-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        blobs = build_layout(work / "src", args.size_mb)
        with start_registry(work / "registry") as registry:
            host = registry.host
            subprocess.run(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--dest-tls-verify=false",
                    f"oci:{work / 'src'}:1.0",
                    f"docker://{host}/bench/big:1.0",
                ],
                check=True,
            )
            total = sum(size for _, size in blobs)
            print(
                f"seeded {len(blobs)} blobs, {total / 1e9:.2f} GB "
                f"in {time.perf_counter() - t0:.1f}s "
                f"on {os.cpu_count()} cores; registry {host}"
            )
            shutil.rmtree(work / "src")
            times: dict[str, list[float]] = {"regtui": [], "skopeo": [], "python-dxf": []}
            rss: list[int] = []
            tools = ["regtui", "skopeo", "python-dxf"]
            tools = [t for t in tools if not (t == "skopeo" and "skopeo" in args.skip)]
            tools = [t for t in tools if not (t == "python-dxf" and "dxf" in args.skip)]
            for run in range(args.runs):
                dest = work / f"out-{run}"
                (dest / "dxf").mkdir(parents=True)
                commands = {
                    "regtui": [*regtui, "pull", "-q", "-j", str(args.jobs), "-o",
                               str(dest / "regtui"), f"{host}/bench/big:1.0"],
                    "skopeo": ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                               f"docker://{host}/bench/big:1.0", f"oci:{dest / 'skopeo'}:1.0"],
                    "python-dxf": [python, "-c", DXF_SCRIPT, host, "bench/big", str(dest / "dxf"),
                                   *(f"{d}={s}" for d, s in blobs)],
                }  # fmt: skip
                # Rotate who goes first, so no tool always meets a warmer or cooler machine.
                order = tools[run % len(tools) :] + tools[: run % len(tools)]
                for tool in order:
                    wall, peak = timed(commands[tool])
                    times[tool].append(wall)
                    if tool == "regtui":
                        rss.append(peak)
                    # Each tool starts with the same page cache: on the development VM,
                    # writing into a cache that already holds another tool's gigabyte cost
                    # the next tool 1-3x the system time (reclaim), so whoever went second
                    # in a run was ~0.5 s slower.
                    shutil.rmtree(dest / TOOL_DIRS[tool], ignore_errors=True)
                shutil.rmtree(dest)
                line = "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items() if v)
                print(f"run {run + 1}: {line}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print()
    print(f"median wall time over {args.runs} runs ({total / 1e9:.2f} GB, {len(blobs)} blobs):")
    for name, value in med.items():
        print(f"  {name:<11} {value:6.2f}s  {total / value / 1e6:7.1f} MB/s")
    for peer in ("python-dxf", "skopeo"):
        if peer in med:
            print(f"ratio regtui/{peer}: {med['regtui'] / med[peer]:.2f}")
    print(f"regtui peak RSS: {max(rss)} MB")


if __name__ == "__main__":
    main()
