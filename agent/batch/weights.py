"""User-supplied model weights for a batch: which files, and their content hashes.

Why this module: the experts accept published checkpoints by path
(ECGFounder `ecg_analyze.classifier_weights`, EchoNet-Dynamic
`echo_analyze.segmentation_weights` / `ef_weights`, CMR `weights_path`,
VarNet `recon_reconstruct.weights`), but those options are hidden from the
planner (`agent/backends/toolcalls.HIDDEN_OPTION`: the model never chooses
files), so `analyze` has no way to set them. A batch sets them as deployment
settings (`--weights TOOL.OPTION=PATH`): every call of that tool in the batch
gets the file unless the call sets the option itself.

A report depends on the weights' *bytes*, not on where they live, so the
configuration hash holds `TOOL.OPTION -> SHA-256 of the content`: swapping
the file at the same path invalidates finished cases; copying it elsewhere
or touching it does not. Hashing a 500 MB checkpoint takes seconds, so it is
streamed in chunks and cached per process by (path, size, mtime): the
configuration is computed once per batch, not once per case.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Options whose value is a weights file (the same words the planner hides).
WEIGHT_OPTION = re.compile(r"(weights|checkpoint)", re.I)
CHUNK = 1 << 20

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


class WeightsError(ValueError):
    """A --weights setting cannot be used (unknown tool/option, missing file)."""


@dataclass(frozen=True)
class WeightFile:
    key: str  # "tool.option", e.g. "ecg_analyze.classifier_weights"
    path: Path  # absolute
    sha256: str
    size: int


def sha256_cached(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed; reused while (path, size, mtime) hold."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                h.update(block)
        digest = _HASH_CACHE[key] = h.hexdigest()
    return digest


def parse_weight_args(items: Iterable[str]) -> dict[str, str]:
    """`TOOL.OPTION=PATH` strings (command line) -> {"tool.option": absolute path}."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, path = item.partition("=")
        if not sep or "." not in key or not path:
            raise WeightsError(f"--weights {item!r}: expected TOOL.OPTION=PATH, e.g. ecg_analyze.classifier_weights=/models/ecgfounder.pth")
        out[key.strip()] = str(Path(path).expanduser().resolve())
    return out


def _tool_options(tool_name: str) -> type:
    from experts.registry import TOOL_PATHS

    for target in TOOL_PATHS.values():
        module_name, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except ModuleNotFoundError:
            continue
        if cls.name == tool_name:
            return cls.Options
    raise WeightsError(f"--weights {tool_name}: no expert tool of that name in this build")


def weight_options(tool_name: str) -> list[str]:
    """The options of a tool that take a weights file."""
    return sorted(name for name in _tool_options(tool_name).model_fields if WEIGHT_OPTION.search(name))


def resolve_weights(weights: Mapping[str, str]) -> list[WeightFile]:
    """Check every setting before any case runs, and hash its file.

    Every problem is raised at once, naming the setting and the file, so a
    typo in one path does not surface as a per-case tool failure an hour in.
    """
    problems, files = [], []
    for key, raw in sorted(weights.items()):
        tool, _, option = key.partition(".")
        try:
            allowed = weight_options(tool)
        except WeightsError as exc:
            problems.append(str(exc))
            continue
        if option not in allowed:
            problems.append(f"--weights {key}: {tool} has no weights option {option!r} (it has: {', '.join(allowed) or 'none'})")
            continue
        path = Path(raw)
        if not path.exists():
            problems.append(f"--weights {key}: weights file not found: {path}")
            continue
        if not path.is_file():
            problems.append(f"--weights {key}: not a file: {path} (pass the checkpoint file itself)")
            continue
        try:
            files.append(WeightFile(key=key, path=path, sha256=sha256_cached(path), size=path.stat().st_size))
        except OSError as exc:
            problems.append(f"--weights {key}: cannot read {path}: {exc.strerror or exc}")
    if problems:
        raise WeightsError("; ".join(problems))
    return files


def weights_fingerprint(weights: Mapping[str, str]) -> dict[str, str]:
    """{"tool.option": content SHA-256}: what the configuration hash sees (no paths)."""
    return {w.key: w.sha256 for w in resolve_weights(weights)}


def apply_to_tools(weights: Mapping[str, str]) -> None:
    """In a worker process: make the batch's weights the default of their tools.

    The per-process tool instances (`experts.registry.load_tool` caches
    them) get a `run` that fills in the weight options a call left unset;
    an option the call sets wins. Idempotent, so every case may call it.
    """
    if not weights:
        return
    from experts.registry import tool_for_name

    by_tool: dict[str, dict[str, Any]] = {}
    for key, path in weights.items():
        tool, _, option = key.partition(".")
        by_tool.setdefault(tool, {})[option] = path
    for tool_name, defaults in by_tool.items():
        tool = tool_for_name(tool_name)
        base = getattr(tool, "_batch_base_run", None) or tool.run
        tool._batch_base_run = base  # type: ignore[attr-defined]
        tool.run = functools.partial(_run_with_defaults, base, dict(defaults))  # type: ignore[method-assign]


def _run_with_defaults(base_run, defaults: dict[str, Any], request):
    options = {**defaults, **{k: v for k, v in request.options.items() if v is not None}}
    return base_run(request.model_copy(update={"options": options}))


def clear_cache() -> None:
    """For tests: forget cached digests."""
    _HASH_CACHE.clear()


__all__ = ["WeightFile", "WeightsError", "apply_to_tools", "parse_weight_args", "resolve_weights", "sha256_cached",
           "weight_options", "weights_fingerprint", "clear_cache"]  # fmt: skip
