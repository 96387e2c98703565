"""Facts about this machine: its CPU (which instruction sets a natively compiled library may use
here) and the per-user cache folder.

A library built from source on install (llama-cpp-python) is only as portable as the flags it was
built with, so whether it runs depends on the CPU's flags, not on its brand: the same wheel can
run on one cloud instance and die with SIGILL, or crash in its AMX kernels, on the next. The
CPU's identity (vendor, model, family/model/stepping and every flag) is what a verdict about a
build is remembered under. Read from ``/proc/cpuinfo`` on Linux; elsewhere only the architecture
and processor name are known, which is enough to key a verdict but names no flags.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CPU", "FEATURES", "cpu", "read_cpu", "user_cache_dir"]

# The x86 flags that decide which llama.cpp build runs here and how fast, in the order shown.
FEATURES = ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
            "avx512vbmi", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
# x86-64 micro-architecture levels (psABI): each needs the flags of the levels below it as well.
_LEVELS = (
    ("x86-64-v2", ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")),
    ("x86-64-v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")),
    ("x86-64-v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
)


@dataclass(frozen=True)
class CPU:
    arch: str  # platform.machine(): x86_64, aarch64, arm64, ...
    vendor: str  # GenuineIntel, AuthenticAMD, ... ("" when unknown)
    model: str  # the processor's name, e.g. "Intel(R) Xeon(R) Platinum 8488C"
    signature: str  # family, model and stepping, which tell CPU generations apart
    flags: frozenset[str]

    @property
    def x86(self) -> bool:
        return self.arch in ("x86_64", "AMD64")

    @property
    def amx(self) -> bool:
        """Whether the CPU has Intel AMX (Sapphire Rapids and later), where llama.cpp's AMX
        kernels run, and crash (ggml-org/llama.cpp#20824)."""
        return bool({"amx_int8", "amx_tile"} & self.flags)

    @property
    def features(self) -> list[str]:
        """The flags of ``FEATURES`` this CPU has, in that order."""
        return [name for name in FEATURES if name in self.flags]

    @property
    def level(self) -> str | None:
        """The highest x86-64 level whose flags are all present (None: not x86-64, or unknown)."""
        if not self.x86 or not self.flags:
            return None
        reached = "x86-64"
        for name, needed in _LEVELS:
            if not self.flags.issuperset(needed):
                break
            reached = name
        return reached

    @property
    def summary(self) -> str:
        return f"{self.model or 'unknown CPU'} ({self.arch})"

    def identity(self) -> str:
        """A digest of everything above: a different CPU, or the same one with flags masked by a
        hypervisor, is another machine for a native build."""
        text = "\n".join([self.arch, self.vendor, self.model, self.signature, " ".join(sorted(self.flags))])
        return hashlib.sha256(text.encode()).hexdigest()


def read_cpu(cpuinfo: str, arch: str) -> CPU:
    """The first processor of a ``/proc/cpuinfo`` text (x86 names its flags ``flags``; ARM names
    them ``Features`` and its model by implementer and part)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor block is enough: they are alike
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    flags = fields.get("flags") or fields.get("features") or ""
    model = fields.get("model name") or fields.get("hardware") or " ".join(
        f"{k} {fields[k]}" for k in ("cpu implementer", "cpu part") if k in fields)
    signature = " ".join(f"{k} {fields[k]}" for k in ("cpu family", "model", "stepping", "cpu variant", "cpu revision")
                         if k in fields)
    return CPU(arch=arch, vendor=fields.get("vendor_id", ""), model=" ".join(model.split()), signature=signature,
               flags=frozenset(flags.split()))


@functools.cache
def cpu() -> CPU:
    """This machine's CPU, read once per process."""
    arch = platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        return CPU(arch=arch, vendor="", model=platform.processor() or "", signature="", flags=frozenset())
    return read_cpu(text, arch)


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/pytest-llmeval`` (``~/.cache`` when unset): what is worth keeping across
    runs and projects on this machine, such as converted models and verdicts about builds."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pytest-llmeval"
