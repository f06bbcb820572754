"""Export the data contracts as JSON Schema (docs/schemas/).

Why committed schemas: systems that import our reports (EHR interfaces,
imaging-core databases) validate against a file, not against Python. A test
checks the committed files match the models, so they never drift.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel


def contract_models() -> dict[str, type[BaseModel]]:
    from agent.report import Report
    from experts.core.types import ExpertResult, Measurement, Statement
    from retrieval.types import GuidelinePassage

    return {
        "report": Report,
        "expert_result": ExpertResult,
        "measurement": Measurement,
        "statement": Statement,
        "guideline_passage": GuidelinePassage,
    }


def schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(mode="serialization"), indent=2, sort_keys=True) + "\n"


def export_schemas(out_dir: Path) -> list[Path]:
    from agent.atomic import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(out_dir / f"{name}.schema.json", schema_text(model)) for name, model in contract_models().items()]


if __name__ == "__main__":
    for p in export_schemas(Path(__file__).resolve().parents[1] / "docs" / "schemas"):
        print(p)
