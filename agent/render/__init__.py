"""Renderers: report.json (the schema), report.md, self-contained report.html.

Each output is written atomically; report.json is written last so that its
presence means the whole set is complete (the batch runner relies on it).
"""

from __future__ import annotations

from pathlib import Path

from agent.atomic import atomic_write_text
from agent.report import Report

FORMATS = ("json", "md", "html")


def write_report(report: Report, out_dir: str | Path, formats: tuple[str, ...] | list[str] = FORMATS) -> dict[str, Path]:
    from agent.render.html import render_html
    from agent.render.markdown import render_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    renderers = {"md": ("report.md", render_markdown), "html": ("report.html", render_html)}
    for fmt in formats:
        if fmt in renderers:
            name, fn = renderers[fmt]
            written[fmt] = atomic_write_text(out / name, fn(report, out))
        elif fmt != "json":
            extra = _extra_renderer(fmt)
            if extra is not None:
                written[fmt] = extra(report, out)
    written["json"] = atomic_write_text(out / "report.json", report.model_dump_json(indent=2))
    return written


def _extra_renderer(fmt: str):
    """Optional formats (pdf, fhir, sr) live in their own modules, added by
    the batch-outputs work; unknown formats are refused by the CLI first."""
    import importlib

    try:
        module = importlib.import_module(f"agent.render.{fmt}")
    except ModuleNotFoundError:
        return None
    return getattr(module, "write", None)
