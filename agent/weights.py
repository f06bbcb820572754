"""User-supplied model weights: which files, their content hashes, and how
they reach the tools (`analyze`, `ui` and `batch` share this module).

Why this module: the experts accept published checkpoints by path
(ECGFounder `ecg_analyze.classifier_weights`, EchoNet-Dynamic
`echo_analyze.segmentation_weights` / `ef_weights`, CMR `weights_path`,
VarNet `recon_reconstruct.weights`), but those options are hidden from the
planner (`agent/backends/toolcalls.HIDDEN_OPTION`: the model never chooses
files). The commands set them as deployment settings instead
(`--weights TOOL.OPTION=PATH`, an alias such as `ecgfounder=PATH`, or the
environment variable CARDIO_WEIGHTS="KEY=PATH;KEY=PATH"; the command line wins
per setting): every call of that tool gets the file unless the call sets the
option itself, and the tool's result then says which file (name and SHA-256
prefix) its measurements were computed with.

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
PREFIX = 16  # hex digits of a SHA-256 shown in reports (as agent/render/provenance.WEIGHTS_PREFIX)

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


# Friendlier names for the published models' settings (`--weights ecgfounder=PATH`).
ALIASES: dict[str, str] = {
    "ecgfounder": "ecg_analyze.classifier_weights",
    "echonet-seg": "echo_analyze.segmentation_weights",
    "echonet-ef": "echo_analyze.ef_weights",
    "cmr": "cmr_analyze.weights_path",
    "varnet": "recon_reconstruct.weights",
}
ENV_VAR = "CARDIO_WEIGHTS"
FLAG = "--weights"
EXAMPLE = "ecg_analyze.classifier_weights=/models/ecgfounder.pth"


def canonical_key(key: str) -> str:
    """An alias ('ecgfounder', 'EchoNet-EF') -> its 'tool.option'; a 'tool.option' as it is."""
    key = key.strip()
    return ALIASES.get(key.lower().replace("_", "-"), key)


def parse_weight_args(items: Iterable[str], origin: str = FLAG) -> dict[str, str]:
    """`TOOL.OPTION=PATH` (or `ALIAS=PATH`) strings -> {"tool.option": absolute path}."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, path = item.partition("=")
        key = canonical_key(key)
        if not sep or "." not in key or not path.strip():
            raise WeightsError(f"{origin} {item!r}: expected TOOL.OPTION=PATH or ALIAS=PATH, e.g. {EXAMPLE} "
                               f"(aliases: {', '.join(sorted(ALIASES))})")  # fmt: skip
        out[key] = str(Path(path.strip()).expanduser().resolve())
    return out


def parse_weight_env(value: str | None) -> dict[str, str]:
    """CARDIO_WEIGHTS="KEY=PATH;KEY=PATH" (';' or newlines between settings)."""
    items = [x.strip() for x in re.split(r"[;\n]", value or "") if x.strip()]
    return parse_weight_args(items, origin=ENV_VAR)


def collect_weights(flag_items: Iterable[str] | None, environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """The weights in effect: CARDIO_WEIGHTS, then the command line on top
    (a setting given on both wins from the command line).

    Returns ({"tool.option": path}, {"tool.option": where it was set}) so
    errors can name the flag or the variable the user has to fix.
    """
    import os

    env = parse_weight_env((os.environ if environ is None else environ).get(ENV_VAR))
    flag = parse_weight_args(flag_items or [])
    origins = {k: ENV_VAR for k in env} | {k: FLAG for k in flag}
    return {**env, **flag}, origins


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
    raise WeightsError(f"{tool_name}: no expert tool of that name in this build (aliases: {', '.join(sorted(ALIASES))})")


def weight_options(tool_name: str) -> list[str]:
    """The options of a tool that take a weights file."""
    return sorted(name for name in _tool_options(tool_name).model_fields if WEIGHT_OPTION.search(name))


def resolve_weights(weights: Mapping[str, str], origins: Mapping[str, str] | None = None) -> list[WeightFile]:
    """Check every setting before any case runs, and hash its file.

    Every problem is raised at once, naming the setting (and whether it came
    from --weights or CARDIO_WEIGHTS) and the file, so a typo in one path does
    not surface as a per-case tool failure an hour in.
    """
    problems, files = [], []
    for key, raw in sorted(weights.items()):
        where = f"{(origins or {}).get(key, FLAG)} {key}"
        tool, _, option = key.partition(".")
        try:
            allowed = weight_options(tool)
        except WeightsError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if option not in allowed:
            problems.append(f"{where}: {tool} has no weights option {option!r} (it has: {', '.join(allowed) or 'none'})")
            continue
        path = Path(raw)
        if not path.exists():
            problems.append(f"{where}: weights file not found: {path}")
            continue
        if not path.is_file():
            problems.append(f"{where}: not a file: {path} (pass the checkpoint file itself)")
            continue
        try:
            files.append(WeightFile(key=key, path=path, sha256=sha256_cached(path), size=path.stat().st_size))
        except OSError as exc:
            problems.append(f"{where}: cannot read {path}: {exc.strerror or exc}")
    if problems:
        raise WeightsError("; ".join(problems))
    return files


def describe(files: Iterable[WeightFile]) -> list[str]:
    """One line per setting, for the command's start-up output."""
    return [f"{w.key} = {w.path} (sha256 {w.sha256[:PREFIX]}…, {w.size / 1e6:.1f} MB)" for w in files]


def weights_fingerprint(weights: Mapping[str, str]) -> dict[str, str]:
    """{"tool.option": content SHA-256}: what the configuration hash sees (no paths)."""
    return {w.key: w.sha256 for w in resolve_weights(weights)}


def apply_to_tools(weights: Mapping[str, str]) -> None:
    """In this process: make the user's weights the default of their tools.

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
    result = base_run(request.model_copy(update={"options": options}))
    used = {opt: path for opt, path in defaults.items() if options.get(opt) == path}
    return annotate_result(result, used) if used else result


def annotate_result(result, used: Mapping[str, str]):
    """Say in the tool's result which user weights file it ran with.

    The experts record a weights hash on what a network computed; the file
    name is not always there (the ECG classifier names the model, not the
    file). So every measurement or statement whose weights hash is one of
    the user's files gets the file name in its model, and the result gets a
    note per setting: file name, SHA-256 prefix, and whether anything in the
    result was computed with it (a file that could not be loaded is named
    in the tool's own warning; the note then says nothing used it).
    """
    if not hasattr(result, "warnings") or not hasattr(result, "measurements"):
        return result
    tool = getattr(result, "tool", "tool")
    for option, raw in sorted(used.items()):
        path = Path(raw)
        try:
            digest = sha256_cached(path)
        except OSError as exc:
            result.warnings.append(f"User weights {tool}.{option} = {path.name}: cannot be read ({exc.strerror or exc}); nothing was computed with them.")
            continue
        n = 0
        for item in [*result.measurements, *getattr(result, "statements", [])]:
            src = getattr(item, "source", None)
            if src is None or src.weights_sha256 != digest:
                continue
            n += 1
            if path.name not in (src.model or ""):
                item.source = src.model_copy(update={"model": f"{src.model or 'model'}, user weights {path.name}"})
        tag = f"User weights {tool}.{option} = {path.name} (sha256 {digest[:PREFIX]}…)"
        if n:
            result.warnings.append(f"{tag}: {n} result(s) of this call were computed with them.")
        else:
            result.warnings.append(f"{tag}: configured, but no result of this call was computed with them (see the notes above).")
    return result


def configure(flag_items: Iterable[str] | None, environ: Mapping[str, str] | None = None) -> list[WeightFile]:
    """For `analyze` and `ui`: read --weights and CARDIO_WEIGHTS, check every
    file (WeightsError naming the setting and the file), and make them the
    defaults of their tools in this process. Returns what is in effect."""
    weights, origins = collect_weights(flag_items, environ)
    files = resolve_weights(weights, origins)
    apply_to_tools({w.key: str(w.path) for w in files})
    return files


HELP = ("user weights for an expert: TOOL.OPTION=PATH or ALIAS=PATH, repeatable; aliases: "
        + ", ".join(f"{a} ({k})" for a, k in ALIASES.items())
        + f"; also ${ENV_VAR}=\"KEY=PATH;KEY=PATH\" (this flag wins per setting). The report names each file and its SHA-256")


def clear_cache() -> None:
    """For tests: forget cached digests."""
    _HASH_CACHE.clear()


__all__ = ["ALIASES", "ENV_VAR", "WeightFile", "WeightsError", "annotate_result", "apply_to_tools", "canonical_key", "clear_cache",
           "collect_weights", "configure", "describe", "parse_weight_args", "parse_weight_env", "resolve_weights", "sha256_cached",
           "weight_options", "weights_fingerprint"]  # fmt: skip
