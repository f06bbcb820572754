"""Follow-up questions in the case's chat, answered by agent.chat.

Why a thin bridge: the answer is produced (and verified against the case's
tool outputs) by `agent.chat.answer`; the UI only turns the verified text,
its cited measurements and guideline passages into a chat message. The
module is imported lazily so a build without agent.chat still starts and
says so instead of failing.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from agent.render.provenance import measurement_row
from ui.report_view import reference_bounds, strip_markers

log = logging.getLogger("cardioagent.ui")
UNAVAILABLE = "Follow-up questions are not available in this build (agent.chat is missing). The report on the right is complete."


def available() -> bool:
    try:
        import agent.chat  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


INLINE_MEDIA = ("image/png", "image/jpeg", "image/gif", "video/mp4")


def ask(thread_id: str, question: str, *, backend, retrieval: bool, out_root: Path) -> list[dict]:
    """Answer `question` on the case thread; returns the Chatbot messages:
    the answer, then one message per figure or clip a re-run produced (a
    re-analysis with other options shows what it drew, like the first run)."""
    try:
        from agent import chat
    except ModuleNotFoundError:
        return [{"role": "assistant", "content": UNAVAILABLE}]
    search = None
    if not retrieval:
        def search(query: str, k: int = 3):  # noqa: ARG001 - same signature as chat.default_search
            raise chat.SearchUnavailable("guideline retrieval is switched off in the settings")
    try:
        result = chat.answer(thread_id, question, backend, search=search, out_root=out_root)
    except chat.ChatError as exc:
        return [{"role": "assistant", "content": f"I cannot answer on this case: {exc}"}]
    log.info("follow-up answered: intent=%s answered=%s cited=%d figures=%d", result.intent, result.answered, len(result.cited_ids),
             len(result.artifacts))  # fmt: skip
    return [{"role": "assistant", "content": answer_markdown(result)}] + rerun_figure_messages(result)


def rerun_figure_messages(result) -> list[dict]:
    """Figures and clips of the tools re-run for this answer, captioned with
    the tool, study and options, so they are not mistaken for the report's."""
    calls = {c.study_id: c for c in result.tool_calls if c.ok}
    out = []
    for art in getattr(result, "artifacts", None) or []:
        if art.media_type not in INLINE_MEDIA or not Path(art.path).is_file():
            continue
        call = next((c for sid, c in calls.items() if f"/{sid}/" in Path(art.path).as_posix()), None) or next(iter(calls.values()), None)
        how = ""
        if call is not None:
            opts = ", ".join(f"{k}={v}" for k, v in call.options.items())
            how = f" — re-run of {call.tool} on {call.study_id}" + (f" with {opts}" if opts else "")
        out.append({"role": "assistant", "content": [f"**{art.title}**{how} (follow-up; not part of the report)",
                                                     {"path": art.path, "alt_text": art.title}]})  # fmt: skip
    return out


def answer_markdown(result) -> str:
    """The verified answer, then the evidence it cites (values with their
    reference and location, guideline passages to expand)."""
    e = html.escape
    parts = [e(strip_markers(result.text))]
    if result.measurements:
        rows = "".join(
            f"<tr><td>{e(r.label)}</td><td><b>{e(r.value)}</b></td><td>{e(r.flag)}</td><td>{e(reference_bounds(m) + (' ' + m.reference_range.population if m.reference_range and m.reference_range.population else '')) or '—'}</td>"
            f"<td>{e(r.evidence)}<br><small>{e(r.source)}</small></td></tr>"
            for m, r in ((m, measurement_row(m)) for m in result.measurements)
        )
        parts.append("<table class='ca-answer'><thead><tr><th>Measurement</th><th>Value</th><th>Flag</th><th>Reference</th>"
                     f"<th>Evidence</th></tr></thead><tbody>{rows}</tbody></table>")  # fmt: skip
    refs = getattr(result, "references", None) or []
    if refs:
        parts.append("<small>Thresholds from: " + "; ".join(e(r.short()) for r in refs) + "</small>")
    for p in result.passages:
        parts.append(f"<details><summary>{e(p.citation())}</summary><blockquote>{e(p.text)}</blockquote></details>")
    extra = [e(n) for n in result.notes]
    if result.tool_calls:
        extra += [f"re-ran {e(c.tool)} on {e(c.study_id)} ({'ok' if c.ok else 'failed'})" for c in result.tool_calls]
    g = result.grounding
    extra.append(f"verified: {g.numbers_traced}/{g.numbers_checked} numbers traced"
                 + (f", {g.sentences_removed} sentence(s) removed" if g.sentences_removed else "") + f" · {e(result.backend)}")  # fmt: skip
    parts.append("<small>" + " · ".join(extra) + "</small>")
    return "\n\n".join(parts)
