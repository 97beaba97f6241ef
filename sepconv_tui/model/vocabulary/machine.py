"""The machine a timing ran on: CPU model, the instruction-set flags that decide which kernels a
runtime picks, cores, threads and the runtime versions.

The same model runs 3× faster in int8 where VNNI or AMX exist and not at all faster where they
do not, and OpenVINO picks bf16 by itself on AMX; a figure without its machine cannot be compared
with anything. No torch here: versions come from the installed packages' metadata, the CPU from
``/proc/cpuinfo`` (Linux) or ``platform`` elsewhere. The measured limits (peak FLOP/s per
precision, memory bandwidth) are added by ``roofline``.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

#: The x86 flags that decide which conv and matmul kernels run: AVX2 and AVX-512 for fp32,
#: VNNI (and AMX-INT8) for int8, AVX512-BF16 and AMX-BF16 for bf16.
X86_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
#: The ARM features that do the same there (``/proc/cpuinfo`` calls them "Features"):
#: NEON ("asimd"), dot product, SVE, bf16 and int8 matmul.
ARM_FLAGS = ("asimd", "asimddp", "sve", "sve2", "bf16", "i8mm")
#: The packages whose versions a timing records, when installed.
VERSIONED_PACKAGES = ("torch", "onnxruntime", "openvino")
#: Where Linux describes the CPU.
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Machine:
    """Where a timing ran; ``peak_flops`` and ``bandwidth_bytes_s`` once measured (roofline)."""

    cpu: str
    flags: tuple[str, ...]  # the kernel-deciding flags this CPU has, in X86_FLAGS / ARM_FLAGS order
    cores: int  # logical CPUs the OS reports
    threads: int  # intra-op threads the timing used
    versions: Mapping[str, str]  # package → version, for those installed
    peak_flops: Mapping[str, float] = field(default_factory=dict)  # precision → FLOP/s
    peak_absent: Mapping[str, str] = field(default_factory=dict)  # precision → why not measured
    bandwidth_bytes_s: float | None = None

    def with_limits(
        self,
        peak_flops: Mapping[str, float],
        bandwidth_bytes_s: float,
        peak_absent: Mapping[str, str] | None = None,
    ) -> Machine:
        """This machine with its measured limits."""
        return replace(
            self,
            peak_flops=dict(peak_flops),
            bandwidth_bytes_s=bandwidth_bytes_s,
            peak_absent=dict(peak_absent or {}),
        )

    @property
    def caption(self) -> str:
        """One line for a table's caption: "Intel Xeon … (avx512f, amx_int8), 1 of 2 threads"."""
        flags = f" ({', '.join(self.flags)})" if self.flags else ""
        return f"{self.cpu}{flags}, {self.threads} of {self.cores} threads"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"machine"``."""
        values: dict[str, Any] = {
            "cpu": self.cpu,
            "flags": list(self.flags),
            "cores": self.cores,
            "threads": self.threads,
            "versions": dict(self.versions),
            "peak_flops": dict(self.peak_flops),
            "bandwidth_bytes_s": self.bandwidth_bytes_s,
        }
        if self.peak_absent:
            values["peak_absent"] = dict(self.peak_absent)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Machine:
        """The inverse of ``to_dict``."""
        bandwidth = values.get("bandwidth_bytes_s")
        return cls(
            str(values["cpu"]),
            tuple(values["flags"]),
            int(values["cores"]),
            int(values["threads"]),
            dict(values["versions"]),
            {key: float(value) for key, value in values.get("peak_flops", {}).items()},
            dict(values.get("peak_absent", {})),
            None if bandwidth is None else float(bandwidth),
        )


def parse_cpuinfo(text: str) -> tuple[str | None, frozenset[str]]:
    """(model name, every flag) from ``/proc/cpuinfo``'s text: x86's "model name" and "flags",
    or ARM's "Features" (its model under "CPU part" is a number, so None there)."""
    name = None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and name is None:
            name = value.strip() or None
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return name, frozenset(flags)


def kernel_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """The flags among ``flags`` that decide kernels, in a fixed order (x86 first, then ARM)."""
    present = set(flags)
    return tuple(flag for flag in (*X86_FLAGS, *ARM_FLAGS) if flag in present)


def cpu_description() -> tuple[str, tuple[str, ...]]:
    """This CPU's model name and kernel-deciding flags (``platform`` when /proc has none)."""
    name: str | None = None
    flags: frozenset[str] = frozenset()
    with contextlib.suppress(OSError):  # not Linux: platform's words below
        name, flags = parse_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    if not flags and platform.machine().lower() in ("arm64", "aarch64"):
        flags = frozenset({"asimd"})  # every 64-bit ARM CPU has NEON (macOS has no /proc)
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    return name, kernel_flags(flags)


def package_versions(packages: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """The installed version of each of ``packages`` (those not installed are left out), read
    from their metadata, so nothing is imported."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def logical_cores() -> int:
    """The logical CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def this_machine(threads: int) -> Machine:
    """This machine, for a timing at ``threads`` intra-op threads (limits not measured)."""
    cpu, flags = cpu_description()
    return Machine(cpu, flags, logical_cores(), threads, package_versions())
