"""The experts as LLM tools: schemas out, validated calls in, results back.

Why a layer between the model and `ExpertTool.run`: a model's tool call is
a proposal. Its arguments are parsed and validated against the tool's own
`Options` model before anything runs, a call naming an unknown tool or
study is refused with a message the model can act on, and the result the
model sees is a compact digest of the typed `ExpertResult` (ids, values,
units, flags, criteria), so it can cite what the tool measured.

Options that describe the *input* or the deployment (file paths, weights,
sampling rates, URLs) are not offered to the model: they must come from the
user or the file, never from a model that may have read them in the notes.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from pydantic import ValidationError

from agent.backends.base import PlannedCall, ToolCallRequest
from experts.core.tool import ExpertTool
from experts.core.types import Modality, StudyInput, format_quantity

HIDDEN_OPTION = re.compile(r"(path|file|dir|weights|checkpoint|url|sampling_rate|device)", re.I)
SIMPLE_TYPES = {"boolean", "integer", "number", "string"}
MAX_DIGEST_MEASUREMENTS = 30
MAX_DIGEST_CHARS = 12_000


def salient_measurement_ids(modality: str, measurements: list[tuple[str, str, str | None]], criteria_ids: set[str],
                            limit: int = MAX_DIGEST_MEASUREMENTS) -> list[str]:  # fmt: skip
    """Which measurements a model is shown, in this order: those the
    statements' criteria use, the modality's key measurements (the rules
    composer's list), flagged ones, then the rest, up to `limit`. A 12-lead
    ECG has ~150 measurements (per-lead amplitudes and ST levels); showing
    all of them costs thousands of tokens and adds nothing a report cites.
    `measurements` are (id, name, flag) tuples."""
    from agent.compose import KEY_MEASUREMENTS
    from experts.core.types import Modality

    key_names = KEY_MEASUREMENTS.get(Modality(modality), []) if modality in {m.value for m in Modality} else []
    rank = {name: i for i, name in enumerate(key_names)}

    def order(item: tuple[int, tuple[str, str, str | None]]) -> tuple:
        i, (mid, name, flag) = item
        return (mid not in criteria_ids, name not in rank, rank.get(name, 0), flag in (None, "normal"), i)

    chosen = sorted(enumerate(measurements), key=order)[:limit]
    keep = {mid for _, (mid, _, _) in chosen}
    return [mid for mid, _, _ in measurements if mid in keep]  # original order


def _llm_settable(name: str, prop: dict[str, Any]) -> bool:
    """Analysis choices only: enums, booleans and numbers; never free text
    (paths) or input descriptions."""
    if HIDDEN_OPTION.search(name) or "$ref" in json.dumps(prop):
        return False
    variants = prop.get("anyOf", [prop])
    types = {v.get("type") for v in variants if v.get("type") != "null"}
    if not types or not types <= SIMPLE_TYPES:
        return False
    if types == {"string"} and not any("enum" in v for v in variants):
        return False
    return True


def tool_spec(tool: ExpertTool, studies: list[StudyInput]) -> dict[str, Any]:
    """The tool's `function_schema()` with a required `study_id` (enum of
    this case's studies of its modality) and only model-settable options."""
    spec = copy.deepcopy(tool.function_schema())
    params = spec["function"]["parameters"]
    props = {k: v for k, v in params.get("properties", {}).items() if _llm_settable(k, v)}
    for v in props.values():
        v.pop("title", None)
    study_ids = [s.study_id for s in studies]
    params["properties"] = {
        "study_id": {"type": "string", "enum": study_ids, "description": f"Which {tool.modality.display} study to analyse"},
        **props,
    }
    params["required"] = ["study_id"]
    params["additionalProperties"] = False
    params.pop("$defs", None)
    return spec


def tool_specs(tools: dict[Modality, ExpertTool], studies: list[StudyInput]) -> list[dict[str, Any]]:
    specs = []
    for modality, tool in tools.items():
        mine = [s for s in studies if s.modality == modality]
        if mine:
            specs.append(tool_spec(tool, mine))
    return specs


def offered_options(spec: dict[str, Any]) -> set[str]:
    return set(spec["function"]["parameters"]["properties"]) - {"study_id"}


class RejectedCall(Exception):
    """A model's call that cannot run; the message goes back to the model."""


def parse_call(
    req: ToolCallRequest,
    tools: dict[Modality, ExpertTool],
    studies: list[StudyInput],
    specs: list[dict[str, Any]],
    requested_by: str = "llm",
) -> PlannedCall:
    """Validate one model call; raise `RejectedCall` saying what is wrong."""
    by_name = {t.name: t for t in tools.values()}
    spec = next((s for s in specs if s["function"]["name"] == req.name), None)
    tool = by_name.get(req.name)
    if tool is None or spec is None:
        names = ", ".join(s["function"]["name"] for s in specs) or "none"
        raise RejectedCall(f"unknown tool {req.name!r}; available tools: {names}")
    try:
        args = json.loads(req.arguments or "{}")
    except json.JSONDecodeError as exc:
        raise RejectedCall(f"arguments are not valid JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(args, dict):
        raise RejectedCall("arguments must be a JSON object")
    study_id = args.pop("study_id", None)
    ids = {s.study_id: s for s in studies}
    if study_id not in ids:
        allowed = [s.study_id for s in studies if s.modality == tool.modality]
        raise RejectedCall(f"study_id {study_id!r} is not a {tool.modality.display} study of this case; choose one of {allowed}")
    if ids[study_id].modality != tool.modality:
        raise RejectedCall(f"{study_id} is a {ids[study_id].modality.display} study; {tool.name} analyses {tool.modality.display}")
    not_offered = sorted(set(args) - offered_options(spec))
    if not_offered:
        raise RejectedCall(f"unknown or not settable option(s): {', '.join(not_offered)}")
    try:
        options = tool.Options.model_validate(args).model_dump(include=set(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "arguments"
        raise RejectedCall(f"invalid option {where}: {first['msg']}") from exc
    return PlannedCall(tool=tool.name, study_id=study_id, options=options, requested_by=requested_by, call_id=req.id,
                       reason="requested by the model")  # fmt: skip


def _criterion_digest(c: dict[str, Any]) -> dict[str, Any]:
    g = c.get("guideline") or {}
    out = {k: c[k] for k in ("measurement_id", "operator", "threshold", "unit", "met")}
    if g:
        out["guideline"] = f"{g.get('guideline')} ({g.get('year')}), {g.get('section')}"
    return out


def result_digest(result: dict[str, Any]) -> dict[str, Any]:
    """What a model needs to reason and cite: ids, values, units, flags,
    statements with criteria; no file paths, no artifacts."""
    all_m = result.get("measurements", [])
    criteria_ids = {c["measurement_id"] for s in result.get("statements", []) for c in s.get("criteria", [])}
    shown = set(salient_measurement_ids(result["modality"], [(m["id"], m["name"], m.get("flag")) for m in all_m], criteria_ids))
    measurements = [
        # the value as reports write it ('45 bpm'), so a model copies the shown rounding
        {"id": m["id"], "label": m["label"], "value": format_quantity(m["value"], m["unit"], m.get("decimals", 0))}
        | ({"flag": m["flag"]} if m.get("flag") else {})
        | ({"reference": {k: v for k, v in m["reference_range"].items() if k in ("low", "high", "unit") and v is not None}}
           if m.get("reference_range") else {})  # fmt: skip
        for m in all_m
        if m["id"] in shown
    ]
    digest = {
        "study_id": result["study_id"],
        "tool": result["tool"],
        "quality": result["quality"],
        "measurements": measurements,
        "statements": [
            {"id": s["id"], "label": s["label"], "status": s["status"], "criteria": [_criterion_digest(c) for c in s.get("criteria", [])]}
            for s in result.get("statements", [])
        ],
        "warnings": result.get("warnings", [])[:8],
    }
    if len(all_m) > len(measurements):
        digest["other_measurements_not_shown"] = len(all_m) - len(measurements)
    if result.get("derived_studies"):
        digest["derived_studies"] = [d["study_id"] for d in result["derived_studies"]]
    return digest


def digest_text(result: dict[str, Any]) -> str:
    text = json.dumps(result_digest(result), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= MAX_DIGEST_CHARS else text[:MAX_DIGEST_CHARS] + "…(truncated)"
