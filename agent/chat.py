"""Follow-up questions on an analysed case, under the report's grounding rule.

Why a separate path from the report: a question ("what was the QTc by
Fridericia?", "why do you call this LBBB?", "what does the guideline
recommend for EF 35%?") is answered from the case thread's results, by
re-running a tool with other options through the same tool interface, or
by guideline retrieval — and the answer passes the same verifier as the
report (`agent.verifier.verify_answer`). A sentence that states something
no tool measured is dropped; an answer with nothing grounded left says
plainly that the case cannot answer the question.

Backends:
- `rules` (and the fallback of any LLM): intent matching over
  measurements, statements (criteria with values, thresholds and guideline
  references), tool options (a QTc formula the results lack triggers a
  re-run), and guideline search. Every sentence is built from a tool
  output with its id attached, so it is grounded by construction.
- agentic LLM backends: the model sees the case data, may call the expert
  tools (re-run with options) and `search_guidelines`, and writes the
  answer; it is verified, fed back once, then the rules answer takes over.

A case is a LangGraph thread: each turn (question, answer, tool calls, new
measurements) is appended to the thread's `chat` channel, so later turns
see earlier re-runs and the conversation survives a restart.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.backends.base import Backend, ComposeInput
from agent.case import ClinicalContext
from agent.notes import INSTRUCTION_PATTERNS, flag_instructions
from agent.report import GroundingSummary, Report, ToolCallRecord
from agent.verifier import CaseEvidence, check_sentence, concepts_in, statement_concepts, verify_answer
from experts.core.tool import ExpertTool, ToolRequest
from experts.core.types import Artifact, ExpertResult, GuidelineRef, Measurement, Modality, Statement, StudyInput, format_quantity
from retrieval.types import GuidelinePassage

MAX_CHAT_STEPS = 4
GUIDELINE_K = 3
Intent = Literal["measurement", "statement", "rerun", "guideline", "unanswerable", "llm"]
SearchFn = Callable[[str, int], list[GuidelinePassage]]


class ChatError(RuntimeError):
    """The question cannot be put to this case (unknown thread, no report)."""


class SearchUnavailable(RuntimeError):
    pass


class ChatAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    text: str = Field(description="The verified answer; citations inline as [M:id] [S:id] [G:id]")
    intent: Intent
    answered: bool = Field(description="False when the case's results could not answer the question")
    cited_ids: list[str] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list, description="Measurements the answer cites, with evidence")
    passages: list[GuidelinePassage] = Field(default_factory=list, description="Guideline passages quoted as data")
    references: list[GuidelineRef] = Field(default_factory=list, description="Guidelines behind the cited criteria' thresholds")
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, description="Tools re-run for this answer")
    artifacts: list[Artifact] = Field(default_factory=list, description="Figures and files the re-runs wrote (shown with the answer)")
    grounding: GroundingSummary = Field(default_factory=GroundingSummary)
    backend: str = "rules"
    fell_back: bool = False
    notes: list[str] = Field(default_factory=list, description="What the system did and why (not clinical claims)")
    thread_id: str | None = None


# --- the case a question is about -------------------------------------------


@dataclass
class CaseView:
    report: Report
    studies: list[StudyInput] = field(default_factory=list)
    context: ClinicalContext = field(default_factory=ClinicalContext)
    thread_id: str | None = None
    history: list[dict] = field(default_factory=list)
    checkpoint_db: str | Path | None = None

    def extra_measurements(self) -> list[Measurement]:
        """Measurements from earlier turns' re-runs (later ones win)."""
        return [Measurement.model_validate(m) for turn in self.history for m in turn.get("new_measurements", [])]

    def measurements(self) -> list[Measurement]:
        by_id = {m.id: m for m in self.report.measurements()}
        for m in self.extra_measurements():
            by_id[m.id] = m
        return list(by_id.values())


def _graph_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def load_case(thread_or_report: str | Report | Path, checkpoint_db: str | Path | None = None) -> CaseView:
    """A case from its thread id (full: studies can be re-run), a Report,
    or a report.json path (results only)."""
    if isinstance(thread_or_report, Report):
        return _view_from_report(thread_or_report)
    if isinstance(thread_or_report, Path) or str(thread_or_report).endswith(".json"):
        path = Path(thread_or_report)
        if not path.is_file():
            raise ChatError(f"{path}: no such report file")
        report = Report.model_validate_json(path.read_text(encoding="utf-8"))
        thread = find_thread(report, checkpoint_db)
        return load_case(thread, checkpoint_db) if thread else _view_from_report(report)
    from agent.graph import build_graph
    from agent.runner import sqlite_checkpointer

    thread_id = str(thread_or_report)
    with sqlite_checkpointer(checkpoint_db) as saver:
        values = build_graph(saver).get_state(_graph_config(thread_id)).values
    if not values:
        raise ChatError(f"unknown case thread {thread_id!r}")
    if not values.get("report"):
        raise ChatError(f"case thread {thread_id!r} has no report (the case stopped before one was written)")
    from agent.case import CaseInput
    from agent.intake.group import IntakeResult

    studies = list(IntakeResult.model_validate(values["intake"]).studies)
    for r in values.get("results", []):
        studies.extend(StudyInput.model_validate(d) for d in r.get("derived_studies", []))
    return CaseView(report=Report.model_validate(values["report"]), studies=studies,
                    context=CaseInput.model_validate(values["case"]).context, thread_id=thread_id,
                    history=list(values.get("chat", [])), checkpoint_db=checkpoint_db)  # fmt: skip


def find_thread(report: Report, checkpoint_db: str | Path | None = None) -> str | None:
    """The case thread that wrote this report, if the threads database has
    it (threads are named '<case id>-<8 hex>'); None otherwise."""
    import sqlite3

    from agent.runner import cardio_home

    db = Path(checkpoint_db) if checkpoint_db else cardio_home() / "threads.sqlite"
    if not db.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id LIKE ?",
                                (report.case_id.replace("%", "") + "-%",)).fetchall()  # fmt: skip
    except sqlite3.Error:
        return None
    from agent.graph import build_graph
    from agent.runner import sqlite_checkpointer

    with sqlite_checkpointer(db) as saver:
        graph = build_graph(saver)
        for (thread_id,) in rows:
            values = graph.get_state(_graph_config(thread_id)).values
            if (values.get("report") or {}).get("report_id") == report.report_id:
                return thread_id
    return None


def _view_from_report(report: Report) -> CaseView:
    h = report.reported_history
    return CaseView(report=report, context=ClinicalContext(patient=report.patient, indication=h.indication, notes=h.notes_excerpt))


def _save_turn(view: CaseView, turn: dict) -> None:
    if view.thread_id is None:
        return
    from agent.graph import build_graph
    from agent.runner import sqlite_checkpointer

    with sqlite_checkpointer(view.checkpoint_db) as saver:
        build_graph(saver).update_state(_graph_config(view.thread_id), {"chat": [turn]}, as_node="render")


# --- tools and search ----------------------------------------------------------


def default_search(query: str, k: int = GUIDELINE_K) -> list[GuidelinePassage]:
    """The guideline knowledge base (hybrid search), if this build has it."""
    try:
        from retrieval.search import get_retriever
    except ModuleNotFoundError as exc:
        raise SearchUnavailable("the guideline index is not part of this build") from exc
    return [p for p in get_retriever().search(query, k=k) if p.collection == "guidelines"]


@dataclass
class RerunOutcome:
    record: ToolCallRecord
    result: ExpertResult | None


def rerun_tool(view: CaseView, tool: ExpertTool, study: StudyInput, options: dict[str, Any], out_root: Path | None = None) -> RerunOutcome:
    """Run an expert again through its tool interface with other options."""
    from agent.runner import cardio_home
    from experts.core.errors import InputError, ToolUnavailable

    base = out_root or cardio_home() / "chat" / (view.thread_id or view.report.report_id)
    out_dir = base / f"turn-{len(view.history) + 1}" / study.study_id
    record = ToolCallRecord(tool=tool.name, study_id=study.study_id, options=options, ok=False, requested_by="chat")
    t0 = time.perf_counter()
    result = None
    try:
        result = tool.run(ToolRequest(study=study, patient=view.context.patient, output_dir=str(out_dir), options=options))
        record.ok = True
    except (InputError, ToolUnavailable) as exc:
        record.error = str(exc)
    except Exception as exc:  # a tool bug must not end the conversation
        record.error = f"internal error in {tool.name}: {type(exc).__name__}: {exc}"
    record.runtime_s = round(time.perf_counter() - t0, 4)
    return RerunOutcome(record, result)


def _tools_for(view: CaseView) -> dict[Modality, ExpertTool]:
    from experts.registry import NoToolForModality, load_tool

    tools = {}
    for modality in {s.modality for s in view.studies}:
        try:
            tools[modality] = load_tool(modality)
        except NoToolForModality:
            continue
    return tools


# --- intent matching (rules) ----------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = set(
    "a an the is was were are be been of by for with on at to in into from this that these those it its what which who "
    "how why do does did you your me my i we our us please tell show give what's whats value values measured measure "
    "patient case study result results report there any and or than as per".split()
)
# Everyday names of measurements → the machine names tools use.
SYNONYMS: dict[str, list[str]] = {
    "heart_rate": ["heart rate", "hr", "pulse", "rate"],
    "qtc_bazett": ["bazett"],
    "qtc_fridericia": ["fridericia"],
    "qtc_framingham": ["framingham"],
    "qt_interval": ["qt interval", "qt"],
    "pr_interval": ["pr interval", "pr"],
    "qrs_duration": ["qrs duration", "qrs width", "qrs"],
    "qrs_axis": ["qrs axis", "axis"],
    "lvef": ["ejection fraction", "lvef", "ef", "lv ef"],
    "rvef": ["rvef", "rv ef", "right ventricular ejection fraction"],
    "lv_edv": ["end diastolic volume", "edv", "lvedv"],
    "lv_esv": ["end systolic volume", "esv", "lvesv"],
    "lv_mass": ["lv mass", "myocardial mass", "mass"],
}
# What to call a quantity the question names but the case lacks.
QUANTITY_NAMES = {
    "heart_rate": "heart rate", "qtc_bazett": "QTc by Bazett", "qtc_fridericia": "QTc by Fridericia",
    "qtc_framingham": "QTc by Framingham", "qt_interval": "QT interval", "pr_interval": "PR interval",
    "qrs_duration": "QRS duration", "qrs_axis": "QRS axis", "lvef": "left ventricular ejection fraction",
    "rvef": "right ventricular ejection fraction", "lv_edv": "LV end-diastolic volume", "lv_esv": "LV end-systolic volume",
    "lv_mass": "LV mass",
}  # fmt: skip
GENERIC_OPTION_VALUES = {"auto", "default", "none", "true", "false", "yes", "no", "on", "off", "all"}
WHY = re.compile(r"\b(why|criteri\w*|explain\w*|basis|based|reason\w*|evidence|justif\w*|how\s+did|how\s+do|call\s+(this|it))\b", re.I)
GUIDELINE = re.compile(r"\b(guideline\w*|recommend\w*|should|indicat\w*|therap\w*|treat\w*|manag\w*|ESC|AHA|ACC|HRS|class\s+I+)\b", re.I)
RERUN = re.compile(r"\b(re-?run|re-?comput\w*|recalculat\w*|re-?analy[sz]\w*|repeat|instead|using|with|by|per|according)\b", re.I)


def _stem(token: str) -> str:
    """Plural to singular, crudely ('intervals' → 'interval'); both sides
    of every comparison go through it."""
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in _WORD.findall(re.sub(r"['’]s\b", "", text.lower()))]


_STOP = {_stem(w) for w in STOPWORDS}


def _phrase_in(phrase: str, text_tokens: list[str]) -> bool:
    p = [_stem(w) for w in phrase.split()]
    return any(text_tokens[i : i + len(p)] == p for i in range(len(text_tokens) - len(p) + 1))


def _measurement_score(m: Measurement, q: list[str]) -> float:
    content = [t for t in q if t not in _STOP]
    if not content:
        return 0.0
    own = set(_tokens(m.name.replace("_", " "))) | set(_tokens(m.label))
    score = sum(1.0 if len(t) > 1 else 0.75 for t in set(content) if t in own)
    for phrase in SYNONYMS.get(m.name, []):
        if _phrase_in(phrase, q):
            score += 1.5 * len(phrase.split())
            break
    return score


def match_measurements(measurements: list[Measurement], question: str) -> list[Measurement]:
    q = _tokens(question)
    scored = [(m, _measurement_score(m, q)) for m in measurements]
    best = max((s for _, s in scored), default=0.0)
    if best < 1.0:
        return []
    return [m for m, s in scored if s == best][:6]


def named_quantities(question: str) -> list[str]:
    """Machine names of quantities the question names (e.g. 'EF' → lvef)."""
    q = _tokens(question)
    return [name for name, phrases in SYNONYMS.items() if any(_phrase_in(p, q) for p in phrases if p != "rate")]


def match_statements(statements: list[Statement], question: str) -> list[Statement]:
    concepts = concepts_in(question)
    hits = [st for st in statements if concepts & statement_concepts(st)]
    if hits:
        return hits
    q = {t for t in _tokens(question) if t not in _STOP}
    scored = [(st, len(q & set(_tokens(st.label)))) for st in statements]
    best = max((s for _, s in scored), default=0)
    return [st for st, s in scored if s == best and s >= 2]


def _cite(kind: str, ids: list[str]) -> str:
    return f"[{kind}:{','.join(ids)}]"


def measurement_sentence(m: Measurement) -> str:
    text = f"{m.label} was {m.with_unit()} {_cite('M', [m.id])}"
    rr = m.reference_range
    if m.flag and m.flag != "normal" and rr and (rr.low is not None or rr.high is not None):
        lo = format_quantity(rr.low, rr.unit, m.decimals) if rr.low is not None else None
        hi = format_quantity(rr.high, rr.unit, m.decimals) if rr.high is not None else None
        bound = f"{lo} to {hi}" if lo and hi else (f"above {lo}" if lo else f"up to {hi}")
        text += f", flagged {m.flag} (reference {bound})"
    return text + "."


SOURCE_QUESTION = re.compile(
    r"\b(which|what)\s+(files?|series|stud(y|ies)|images?|records?|recordings?|inputs?|scans?|leads?|slices?|phases?)\b|\bfrom\s+(which|what|where)\b|"
    r"\bmeasured\s+(from|on|in|with)\b|\bsources?\b|\bprovenance\b|\bwhere\b.*\b(from|measured|come|comes|taken)\b|"
    r"\bhow\s+(was|were|is|are)\b.*\b(measured|calculated|computed|derived|obtained)\b|\bmethods?\b|\bwhich\s+tool\b",
    re.I,
)


def measurement_source(view: CaseView, m: Measurement) -> str:
    """Where a value comes from — study, series or file and the location in
    it, tool, model and method — as the report's provenance rows say it
    (`agent.render.provenance`), so the answer and the report cannot differ."""
    from agent.render.provenance import measurement_row, section_source

    report = view.report
    section = next((s for s in report.sections if any(x.id == m.id for x in s.measurements)), None)
    if section is None:  # a re-run's value: the study its id names
        section = next((s for s in report.sections if s.study_id == m.id.split(".")[0]), None)
    row = measurement_row(m, section_source(section, report).series if section is not None else "")
    study = f"study {section.study_id} ({section.modality.display}), " if section is not None else ""
    model = "; ".join(x for x in (f"model {row.model}" if row.model else "", row.weights) if x)
    tool = f"tool {row.source}" + (f" ({model})" if model else "")
    method = f"; method: {row.method.rstrip('.')}" if row.method else ""
    return f"Source of {m.label} {_cite('M', [m.id])}: {study}{row.evidence}; {tool}{method}."


def statement_sentences(st: Statement, measurements: dict[str, Measurement], ev: CaseEvidence | None = None) -> list[str]:
    """The statement and each criterion with value, operator, threshold and
    the guideline behind the threshold. A guideline title can itself trip
    the verifier (titles contain 'Recommendations', 'heart failure'); then
    the sentence keeps the criterion and the reference goes to the answer's
    `references` only."""
    status = {"present": "reported as present", "absent": "reported as absent", "indeterminate": "indeterminate"}[st.status]
    out = [f"{st.label}: {status} by {st.source.tool} {_cite('S', [st.id])}."]
    for c in st.criteria:
        m = measurements.get(c.measurement_id)
        threshold = format_quantity(c.threshold, c.unit, m.decimals if m else 0)
        value = f"{m.label} {m.with_unit()}" if m else c.measurement_id
        ids = _cite("S", [st.id]) + (_cite("M", [m.id]) if m else "")
        plain = f"Criterion: {value} {c.operator} {threshold}, {'met' if c.met else 'not met'}"
        sentence = f"{plain} {ids}."
        if c.guideline:
            with_ref = f"{plain}; threshold from {c.guideline.guideline} ({c.guideline.year}), {c.guideline.section} {ids}."
            if ev is None or check_sentence(with_ref, ev).ok:
                sentence = with_ref
        out.append(sentence)
    if not st.criteria:
        out.append(f"The tool gave no measured criteria for it {_cite('S', [st.id])}.")
    return out


def _option_values(tool: ExpertTool, studies: list[StudyInput]) -> dict[str, list[str]]:
    """Enum values of the options a re-run may set, e.g. qtc_formula →
    bazett/fridericia/framingham (the same options the LLM is offered)."""
    from agent.backends.toolcalls import tool_spec

    props = tool_spec(tool, studies)["function"]["parameters"]["properties"]
    return {k: [str(x) for x in v["enum"]] for k, v in props.items() if k != "study_id" and "enum" in v}


@dataclass
class _Draft:
    intent: Intent
    sentences: list[str]
    answered: bool
    passages: list[GuidelinePassage] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    new_measurements: list[Measurement] = field(default_factory=list)
    new_statements: list[Statement] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    references: list[GuidelineRef] = field(default_factory=list)
    # measurement id → where it was measured (the report's provenance rows);
    # appended after verification for the measurements the kept answer cites
    sources: dict[str, str] = field(default_factory=dict)

    def add_result(self, result: ExpertResult) -> None:
        """Keep what a re-run produced: its values, findings and figures."""
        self.new_measurements.extend(result.measurements)
        self.new_statements.extend(result.statements)
        self.artifacts.extend(result.artifacts)

    def merge(self, earlier: "_Draft") -> None:
        """Fold an earlier attempt's tool work into this one (LLM retry)."""
        self.tool_calls = earlier.tool_calls + self.tool_calls
        self.new_measurements = earlier.new_measurements + self.new_measurements
        self.new_statements = earlier.new_statements + self.new_statements
        self.artifacts = earlier.artifacts + self.artifacts
        self.passages = earlier.passages + [p for p in self.passages if p.id not in {x.id for x in earlier.passages}]


def _rerun_for(view: CaseView, question: str, out_root: Path | None) -> _Draft | None:
    """A question naming a tool option value (e.g. 'Fridericia') whose
    result the case lacks: re-run that tool with the option."""
    tokens = _tokens(question)
    tools = _tools_for(view)
    for modality, tool in tools.items():
        studies = [s for s in view.studies if s.modality == modality]
        if not studies:
            continue
        for option, values in _option_values(tool, studies).items():
            wanted = [v for v in values if _stem(v.lower()) in tokens and v.lower() not in GENERIC_OPTION_VALUES]
            if len(wanted) != 1 or not RERUN.search(question):
                continue
            have = match_measurements(view.measurements(), question)
            if have and any(_stem(wanted[0].lower()) in _tokens(m.name.replace("_", " ") + " " + m.label) for m in have) and not re.search(r"\bre-?(run|comput|calculat)", question, re.I):
                return None  # already measured: a plain look-up answers it
            draft = _Draft(intent="rerun", sentences=[], answered=False)
            for study in studies:
                outcome = rerun_tool(view, tool, study, {option: wanted[0]}, out_root)
                draft.tool_calls.append(outcome.record)
                if outcome.result is None:
                    draft.notes.append(f"Re-running {tool.name} on {study.study_id} with {option}={wanted[0]} failed: {outcome.record.error}")
                    continue
                draft.add_result(outcome.result)
                found = match_measurements(outcome.result.measurements, question)
                draft.notes.append(f"Re-ran {tool.name} on {study.study_id} with {option}={wanted[0]}.")
                for m in found:
                    draft.sentences.append(measurement_sentence(m))
                draft.answered = draft.answered or bool(found)
            if not draft.answered:
                draft.sentences.append("Re-running the analysis with that option did not produce the value asked for.")
            return draft
    return None


# --- question hygiene: instructions, off-topic, false premises -------------------------

_INSTRUCTION = re.compile("|".join(INSTRUCTION_PATTERNS), re.I)
IGNORED_INSTRUCTION = ("Part of the question reads as an instruction to the system; it was ignored, "
                       "and answers come only from this case's results and its guidelines.")  # fmt: skip
OFF_TOPIC = "I can only answer questions about this case and its guidelines."
# Words that make a question about a cardiac case at all (with the case's own
# measurement and finding names, named quantities and diagnostic concepts).
CARDIAC = re.compile(
    r"\b(heart|cardi\w*|coronar\w*|ecgs?|ekgs?|electrocardi\w*|echo\w*|cmr|mri|holter|rhythm\w*|beats?|pulse|waves?|leads?|"
    r"intervals?|segments?|ventric\w*|atri\w*|valv\w*|aort\w*|mitral|qrs|qtc?|pr|st|lv|rv|l?v?ef|bpm|amplitude\w*|durations?|"
    r"axis|voltage|diagnos\w*|findings?|measure\w*|guidelines?|esc|aha|acc|hrs|crt|icd|pac(ing|emaker)|ablation|block\w*|"
    r"syndrome|therap\w*|treat\w*|medication\w*|drugs?|symptom\w*|criteri\w*|thresholds?|formula\w*|tools?|"
    r"sinus|tachy\w*|brady\w*|infarct\w*|isch\w*|stemi|myocard\w*|pericard\w*|ejection|systol\w*|diastol\w*|"
    r"chamber\w*|wall|volume\w*|mass|strain|fibrillation|flutter|arrhythm\w*|conduction|hypertroph\w*|anticoag\w*)\b",
    re.I,
)


def split_instructions(question: str) -> tuple[str, list[str]]:
    """The question without instruction-like text (the notes' detector,
    `agent.notes.flag_instructions`), and what was removed. In a sentence
    that turns into an instruction half-way, the part before it is kept."""
    flagged = flag_instructions(question)
    if not flagged:
        return question, []
    kept = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", question):
        m = _INSTRUCTION.search(sentence)
        if m is None:
            kept.append(sentence)
            continue
        head = re.sub(r"[\s,;:–—-]*\b(and|but|then|also|so|now|please)?[\s,;:–—-]*$", "", sentence[: m.start()], flags=re.I)
        if head.strip():
            kept.append(head.strip())
    return " ".join(s.strip() for s in kept if s.strip()), flagged


def on_topic(view: CaseView, question: str) -> bool:
    """Whether the question is about a cardiac case at all (the weather is not)."""
    if CARDIAC.search(question) or concepts_in(question) or named_quantities(question):
        return True
    if match_measurements(view.measurements(), question) or match_statements(view.report.statements(), question):
        return True
    return False


QTC_NAMES = ["qtc_bazett", "qtc_fridericia", "qtc_framingham", "qtc_hodges"]
# What a presupposition is about: (pattern, measurement names in preference order).
PREMISE_TERMS: list[tuple[re.Pattern, str, list[str]]] = [
    (re.compile(r"\bqtc?\b|\bqt\s+interval\b", re.I), "QTc", QTC_NAMES),
    (re.compile(r"\brvef\b|\bright\s+ventricular\s+ejection\s+fraction\b", re.I), "RVEF", ["rvef"]),
    (re.compile(r"\b(lv\s*)?ef\b|\bejection\s+fraction\b|\bsystolic\s+function\b", re.I), "LVEF", ["lvef"]),
    (re.compile(r"\bqrs\b", re.I), "QRS duration", ["qrs_duration"]),
    (re.compile(r"\bpr(\s+interval)?\b", re.I), "PR interval", ["pr_interval"]),
    (re.compile(r"\bheart\s+rate\b|\bpulse\b|\brate\b", re.I), "heart rate", ["heart_rate"]),
]
HIGH = re.compile(r"\b(prolong\w*|long|lengthen\w*|high|elevat\w*|increas\w*|wide\w*|broad|fast|rapid|rais\w*|large|dilat\w*|enlarg\w*)\b", re.I)
LOW = re.compile(r"\b(low|lower|reduc\w*|short\w*|decreas\w*|slow|depress\w*|impair\w*|narrow\w*|small)\b", re.I)
# Findings whose presupposition a measurement settles.
CONCEPT_PREMISES = {"qt_prolongation": ("QTc", QTC_NAMES, "high", "prolonged"), "short_qt": ("QTc", QTC_NAMES, "low", "short"),
                    "tachycardia": ("heart rate", ["heart_rate"], "high", "fast"),
                    "bradycardia": ("heart rate", ["heart_rate"], "low", "slow"),
                    "reduced_function": ("LVEF", ["lvef"], "low", "reduced")}  # fmt: skip
RHYTHM_CONCEPTS = {"sinus", "atrial_fibrillation", "atrial_flutter", "tachycardia", "bradycardia", "ventricular_arrhythmia", "pause"}
PRESUPPOSES = re.compile(r"\b(why|what\s+(causes?|caused|explains?)|how\s+come|reason\s+for|cause\s+of|because\s+of)\b", re.I)


def _premise(question: str) -> tuple[str, list[str], str, str] | None:
    """(subject, measurement names, 'high'|'low', the question's adjective)
    for a question that presupposes an abnormal value ('why is the QTc
    prolonged?'); None otherwise."""
    if not PRESUPPOSES.search(question):
        return None
    for concept, (subject, names, direction, word) in CONCEPT_PREMISES.items():
        if concept in concepts_in(question):
            return subject, names, direction, word
    for pattern, subject, names in PREMISE_TERMS:
        if not pattern.search(question):
            continue
        hi, lo = HIGH.search(question), LOW.search(question)
        if hi and not lo:
            return subject, names, "high", hi.group(0).lower()
        if lo and not hi:
            return subject, names, "low", lo.group(0).lower()
    return None


def _range_text(m: Measurement) -> str:
    rr = m.reference_range
    lo = format_quantity(rr.low, rr.unit, m.decimals) if rr.low is not None else None
    hi = format_quantity(rr.high, rr.unit, m.decimals) if rr.high is not None else None
    bound = f"{lo} to {hi}" if lo and hi else (f"at least {lo}" if lo else f"up to {hi}")
    return bound + (f" for {rr.population}" if rr.population else "")


def _provenance(m: Measurement) -> list[str]:
    """Ways to say where a value came from, most detailed first (a part with
    digits, e.g. '1920' in a method, would not trace and is left out)."""
    method = re.split(r"\s+[—–]\s+|;", m.method)[0].strip()
    parts = [f"{m.source.tool}, {method}" if method and not re.search(r"\d", method) else m.source.tool]
    if m.evidence.file and not re.search(r"\d", m.evidence.file):
        parts[0] += f", from {m.evidence.file}"
    return parts + [m.source.tool, ""]


def _first_ok(candidates: list[str], ev: CaseEvidence) -> str | None:
    return next((c for c in candidates if check_sentence(c, ev).ok), None)


def premise_answer(view: CaseView, question: str, ev: CaseEvidence) -> _Draft | None:
    """Correct a false presupposition with the case's own values: 'why is the
    QTc prolonged?' when every QTc is within its reference range, 'why is
    there AF?' when the rhythm was reported as sinus. None when the premise
    holds or the case cannot tell."""
    if not PRESUPPOSES.search(question):
        return None
    statements = view.report.statements()
    concepts = concepts_in(question)
    if concepts and any(st.status == "present" and concepts & statement_concepts(st) for st in statements):
        return None  # the finding was reported: the criteria answer it
    premise = _premise(question)
    if premise is not None:
        subject, names, direction, word = premise
        # a value the tool marked limited (e.g. QTc during AF) cannot refute a premise
        by_name = {n: [m for m in view.measurements() if m.name == n and m.reference_range and m.quality == "usable"]
                   for n in names}  # fmt: skip
        found = [m for n in names for m in by_name[n]]
        if found:
            flags = [m.flag or m.reference_range.classify(m.value) for m in found]
            if any(f in (direction, "abnormal") for f in flags):
                return None  # the premise holds
            sentences = []
            for i, m in enumerate(found):
                head = f"The {subject} is not {word}: " if i == 0 else ""
                within = {"normal": "within", "low": "below", "high": "above"}[m.reference_range.classify(m.value)]
                base = f"{head}{m.label} was {m.with_unit()} {_cite('M', [m.id])}, {within} the reference range {_range_text(m)}"
                s = _first_ok([f"{base} ({p})." if p else f"{base}." for p in _provenance(m)], ev)
                if s is None and i == 0:
                    s = _first_ok([f"{m.label} was {m.with_unit()} {_cite('M', [m.id])}, {within} the reference range {_range_text(m)}."], ev)
                if s:
                    sentences.append(s)
            if not sentences:
                return None
            draft = _Draft(intent="measurement", sentences=sentences, answered=True)
            draft.references = [m.reference_range.source for m in found if m.reference_range.source]
            draft.notes.append("The question presupposes an abnormal value; the measured values do not support it.")
            return draft
    if concepts & RHYTHM_CONCEPTS:
        rhythm = [st for st in statements if st.status == "present" and st.category == "rhythm"]
        absent = [st for st in statements if st.status == "absent" and concepts & statement_concepts(st)]
        if not rhythm and not absent:
            return None
        by_id = {m.id: m for m in view.measurements()}
        sentences = ["That finding was not reported as present in this case."]
        sentences += [s for st in absent[:2] for s in statement_sentences(st, by_id, ev)[:1]]
        if rhythm:
            sentences.append("The rhythm was reported as " + "; ".join(f"{st.label} {_cite('S', [st.id])}" for st in rhythm[:3]) + ".")
        draft = _Draft(intent="statement", sentences=sentences, answered=True)
        draft.notes.append("The question presupposes a finding that the case's tools did not report.")
        return draft
    return None


# --- treatment built on a finding --------------------------------------------------------

THERAPY = re.compile(r"\b(ICDs?|defibrillator\w*|implant\w*|pacemakers?|ablat\w*|anticoagula\w*|therap\w*|"
                     r"treat\w*|medicat\w*|drugs?|prescri\w*|beta[-\s]?blockers?)\b", re.I)  # fmt: skip
DEVICE = re.compile(r"\b(ICD|defibrillator|pacemaker|ablation|anticoagulation)\b", re.I)
DEVICE_PHRASES = {"icd": "an ICD", "defibrillator": "a defibrillator", "pacemaker": "a pacemaker", "ablation": "ablation",
                  "anticoagulation": "anticoagulation"}  # fmt: skip


@dataclass(frozen=True)
class Syndrome:
    """A syndrome that a routine ECG criterion of the same name is not: a
    treatment question about 'the short QTc' is about the syndrome."""

    name: str
    measurements: list[str]
    threshold: float  # at or below (the guideline's threshold for considering it)
    unit: str
    threshold_passage: str  # the guideline statement that gives the threshold
    passages: list[str]  # every guideline statement on its diagnosis


SYNDROMES: dict[str, Syndrome] = {
    "short_qt": Syndrome("short QT syndrome", QTC_NAMES, 320.0, "ms", "esc-va-2022-sqts-320",
                         ["esc-va-2022-sqts-320", "esc-va-2022-sqts-diagnosis"]),
}  # fmt: skip


def therapy_premise_answer(view: CaseView, question: str, ev_base: CaseEvidence) -> _Draft | None:
    """'Is the short QTc a reason to start an ICD?': a treatment question built
    on a finding. When the finding is absent, say so plainly; when the case
    has only the ECG criterion of a syndrome's name (short QTc ≤ 390 ms), say
    it is not the syndrome, with the value against the guideline's threshold.
    Either way, say that nothing in the report supports the treatment on that
    basis. None when the question is not of this kind (CRT has its own answer)."""
    if not THERAPY.search(question) or CRT_QUESTION.search(question):
        return None
    concepts = concepts_in(question)
    statements = view.report.statements()
    present = {c for c in concepts if any(st.status == "present" and c in statement_concepts(st) for st in statements)}
    absent = concepts - present
    syndromes = [c for c in sorted(concepts) if c in SYNDROMES]
    if not absent and not syndromes:
        return None  # the finding is there: the criteria and guideline paths answer it
    try:
        curated = _curated_passages([pid for c in syndromes for pid in SYNDROMES[c].passages])
    except Exception:
        curated = {}
    draft = _Draft(intent="statement", sentences=[], answered=True)
    draft.passages = list(curated.values())
    ev = CaseEvidence.build(ev_base.measurements.values(), ev_base.statements.values(),
                            list(ev_base.passages.values()) + draft.passages, ev_base.supplied)  # fmt: skip
    by_id = {m.id: m for m in view.measurements()}
    basis: list[str] = []  # guideline ids the closing sentence may cite
    for c in sorted(absent - set(syndromes)):
        denied = [st for st in statements if st.status == "absent" and c in statement_concepts(st)]
        if denied:
            s = _first_ok([f"This case has no such finding: {st.label} was reported as absent by {st.source.tool} {_cite('S', [st.id])}." for st in denied[:1]], ev)
        else:
            s = "No tool reported the finding the question is built on as present in this case."
        if s:
            draft.sentences.append(s)
    for c in syndromes:
        spec = SYNDROMES[c]
        values = [m for n in spec.measurements for m in by_id.values() if m.name == n]
        st = next((x for x in statements if x.status == "present" and c in statement_concepts(x)), None)
        st = st or next((x for x in statements if x.status == "absent" and c in statement_concepts(x)), None)
        threshold_p = curated.get(spec.threshold_passage)
        g = _cite("G", [threshold_p.id]) if threshold_p else ""
        if st is not None and st.status == "present":
            crit = next((cr for cr in st.criteria if by_id.get(cr.measurement_id) and cr.unit == spec.unit), None)
            m = by_id.get(crit.measurement_id) if crit else None
            sign = {">=": "≥", "<=": "≤"}.get(crit.operator, crit.operator) if crit else ""
            detail = f" ({m.label} {m.with_unit()} {sign} {format_quantity(crit.threshold, crit.unit, m.decimals)})" if crit and m else ""
            ids = _cite("S", [st.id]) + (_cite("M", [m.id]) if m else "")
            s = _first_ok([f"The {st.label} reported here is the ECG interpretation criterion{detail}, not {spec.name}: this case has no {spec.name} finding {ids}.",
                           f"The {st.label} reported here is an ECG interpretation criterion, not {spec.name}: this case has no {spec.name} finding {ids}."], ev)  # fmt: skip
            if m is not None:
                values = [m] + [x for x in values if x.id != m.id]
        elif st is not None:
            s = _first_ok([f"This case has no {spec.name} finding: {st.label} was reported as absent {_cite('S', [st.id])}."], ev)
        else:
            s = "No tool in this case reported that finding as present."
        if s:
            draft.sentences.append(s)
        if values and threshold_p:
            m = values[0] if st is not None and st.status == "present" else min(values, key=lambda x: x.value)
            rel = "above" if m.value > spec.threshold else "at or below"
            far = "far " if m.value - spec.threshold >= 40 else ""
            thr = format_quantity(spec.threshold, spec.unit, 0)
            st_cite = _cite("S", [st.id]) if st is not None else ""
            s = _first_ok([f"{m.label} {m.with_unit()} is {far}{rel} the threshold of {thr} at which the guideline says {spec.name} should be considered {_cite('M', [m.id])}{st_cite}{g}.",
                           f"{m.label} {m.with_unit()} is {far}{rel} the guideline threshold of {thr} {_cite('M', [m.id])}{g}."], ev)  # fmt: skip
            if s:
                draft.sentences.append(s)
                basis.append(threshold_p.id)
            draft.references.append(GuidelineRef(guideline=threshold_p.guideline, year=threshold_p.year, section=threshold_p.section,
                                                 passage_id=threshold_p.id))  # fmt: skip
    device = DEVICE.search(question)
    what = DEVICE_PHRASES.get(device.group(0).lower(), "that treatment") if device else "that treatment"
    cites = _cite("G", list(dict.fromkeys(basis + [p.id for p in draft.passages]))) if draft.passages else ""
    closing = _first_ok([f"Nothing in this report supports {what} on that basis {cites}.",
                         "Nothing in this report supports that treatment on that basis."], ev)  # fmt: skip
    if closing:
        draft.sentences.append(closing)
    draft.notes.append("The question builds a treatment on a finding this case does not have; the answer says so instead of restating criteria.")
    return draft


# --- CRT: the guideline rows against this case's values ---------------------------------

CRT_QUESTION = re.compile(r"\b(CRT(-[DP])?|resynchroni[sz]\w*|biventricular\s+pac\w*)\b", re.I)
# ESC 2021 heart failure rows: (passage id, LBBB needed (None: either), QRS ≥, QRS ≤, QRS <, LVEF ≤)
CRT_ROWS: list[tuple[str, bool | None, float | None, float | None, float | None, float | None]] = [
    ("esc-hf-2021-crt-lbbb-150", True, 150, None, None, 35),
    ("esc-hf-2021-crt-lbbb-130-149", True, 130, 149, None, 35),
    ("esc-hf-2021-crt-non-lbbb-150", False, 150, None, None, 35),
    ("esc-hf-2021-crt-non-lbbb-130-149", False, 130, 149, None, 35),
    ("esc-hf-2021-crt-qrs-under-130", None, None, None, 130, None),
]


def _curated_passages(ids: list[str]) -> dict[str, GuidelinePassage]:
    from retrieval.corpus_loader import load_corpus

    by_id = load_corpus(strict=False).by_id()
    return {i: by_id[i] for i in ids if i in by_id}


def crt_answer(view: CaseView, ev_base: CaseEvidence) -> _Draft | None:
    """'What does the guideline say about CRT here?': each ESC 2021 CRT row
    with its criteria set against this case's LVEF, QRS duration and QRS
    morphology; unknown where the case has no value."""
    try:
        rows = _curated_passages([r[0] for r in CRT_ROWS])
    except Exception:
        return None
    if not rows:
        return None
    ms = view.measurements()
    lvef = next((m for m in ms if m.name == "lvef"), None)
    qrs = next((m for m in ms if m.name == "qrs_duration"), None)
    lbbb_st = next((st for st in view.report.statements() if "bundle_branch_block" in statement_concepts(st)
                    and re.search(r"\bleft\b|\bLBBB\b", st.label, re.I)), None)  # fmt: skip
    lbbb = None if lbbb_st is None or lbbb_st.status == "indeterminate" else lbbb_st.status == "present"
    rhythm = [st for st in view.report.statements() if st.status == "present" and st.category == "rhythm"]
    draft = _Draft(intent="guideline", sentences=[], answered=True)
    draft.passages = list(rows.values())
    ev = CaseEvidence.build(ev_base.measurements.values(), ev_base.statements.values(),
                            list(ev_base.passages.values()) + draft.passages, ev_base.supplied)  # fmt: skip
    all_ids = _cite("G", list(rows))
    draft.sentences.append(f"CRT depends on LVEF, QRS duration and QRS morphology, each set against the guideline rows below {all_ids}.")
    case = [f"LVEF {lvef.with_unit()} {_cite('M', [lvef.id])} ({lvef.source.tool})" if lvef else "LVEF unknown (this case has no LVEF measurement)",
            f"QRS duration {qrs.with_unit()} {_cite('M', [qrs.id])}" if qrs else "QRS duration unknown (this case has no QRS duration measurement)"]  # fmt: skip
    if lbbb_st is not None:
        case.append(f"{lbbb_st.label} {lbbb_st.status} {_cite('S', [lbbb_st.id])}")
    else:
        case.append("QRS morphology not assessed")
    if rhythm:
        case.append("rhythm " + ", ".join(f"{st.label} {_cite('S', [st.id])}" for st in rhythm[:2]))
    draft.sentences.append("This case: " + "; ".join(case) + ".")
    matched, open_rows = [], []
    for pid, need_lbbb, qrs_min, qrs_max, qrs_below, lvef_max in CRT_ROWS:
        p = rows.get(pid)
        if p is None:
            continue
        parts, verdicts = [], []
        if lvef_max is not None:
            v = None if lvef is None else lvef.value <= lvef_max
            verdicts.append(v)
            parts.append(f"LVEF ≤ {lvef_max:g}%: " + ({None: "unknown", True: "met", False: "not met"}[v]))
        if qrs_min is not None or qrs_below is not None:
            if qrs is None:
                v = None
            elif qrs_below is not None:
                v = qrs.value < qrs_below
            else:
                v = qrs.value >= qrs_min and (qrs_max is None or qrs.value <= qrs_max)
            verdicts.append(v)
            crit = (f"QRS < {qrs_below:g} ms" if qrs_below is not None
                    else f"QRS ≥ {qrs_min:g} ms" + (f" and ≤ {qrs_max:g} ms" if qrs_max is not None else ""))  # fmt: skip
            parts.append(f"{crit}: " + ({None: "unknown", True: "met", False: "not met"}[v]))
        if need_lbbb is not None:
            v = None if lbbb is None else lbbb == need_lbbb
            verdicts.append(v)
            parts.append(f"QRS morphology as the row requires: {({None: 'unknown', True: 'met', False: 'not met'}[v])}")
        if False in verdicts:
            status = "does not apply to this case"
        elif None in verdicts:
            status = "cannot be decided from this case"
            open_rows.append(pid)
        else:
            status = "matches this case"
            matched.append(pid)
        cls = f"class {p.recommendation_class}" if p.recommendation_class else "row"
        cites = _cite("G", [pid]) + (_cite("M", [lvef.id]) if lvef and lvef_max is not None else "") + (_cite("M", [qrs.id]) if qrs else "") \
            + (_cite("S", [lbbb_st.id]) if lbbb_st is not None and need_lbbb is not None else "")
        sentence = f"{p.guideline} ({p.year}), {cls}: {'; '.join(parts)}; {status} {cites}."
        ok = _first_ok([sentence, f"{p.guideline} ({p.year}), {cls}: {status} {_cite('G', [pid])}."], ev)
        if ok:
            draft.sentences.append(ok)
    if not matched and not open_rows:
        draft.sentences.append(f"No CRT row of the cited guideline matches this case's values {all_ids}.")
    draft.notes.append("CRT rows: ESC 2021 heart failure guideline, from the curated corpus; the full text of each row is quoted with the answer.")
    missing = [n for n, v in (("an LVEF (echo or CMR)", lvef), ("a QRS duration (ECG)", qrs)) if v is None]
    if missing:
        draft.notes.append("Not supplied or not measured in this case: " + " and ".join(missing) + "; the rows that need it stay undecided.")
    return draft


# --- rules -------------------------------------------------------------------------------


def rules_answer(view: CaseView, question: str, search: SearchFn | None = None, out_root: Path | None = None) -> _Draft:
    """Instruction-like text is dropped (and the answer says so), a question
    about something other than the case gets one plain sentence, the rest
    goes to the look-ups below."""
    clean, flagged = split_instructions(question)
    notes = [f"Ignored {len(flagged)} instruction-like sentence(s) in the question; they were not acted on."] if flagged else []
    if not clean.strip() or not on_topic(view, clean):
        sentences = ([IGNORED_INSTRUCTION] if flagged else []) + [OFF_TOPIC]
        return _Draft(intent="unanswerable", sentences=sentences, answered=False,
                      notes=notes + ["Ask about a measurement, a finding and its criteria, another tool option (e.g. a QTc formula), or a guideline."])  # fmt: skip
    draft = _case_answer(view, clean, search, out_root)
    if flagged:
        draft.sentences.insert(0, IGNORED_INSTRUCTION)
        draft.notes[:0] = notes
    return draft


def _case_answer(view: CaseView, question: str, search: SearchFn | None = None, out_root: Path | None = None) -> _Draft:
    measurements = view.measurements()
    statements = view.report.statements()
    by_id = {m.id: m for m in measurements}

    if view.studies:
        rerun = _rerun_for(view, question, out_root)
        if rerun is not None:
            return rerun

    ev = _evidence(view, _Draft(intent="statement", sentences=[], answered=True))
    therapy = therapy_premise_answer(view, question, ev)
    if therapy is not None:
        return therapy
    premise = premise_answer(view, question, ev)
    if premise is not None:
        return premise
    if CRT_QUESTION.search(question):
        crt = crt_answer(view, ev)
        if crt is not None:
            return crt

    wants_why = bool(WHY.search(question))
    concepts = concepts_in(question)
    if wants_why or (concepts and not GUIDELINE.search(question)):
        hits = match_statements(statements, question)
        if hits:
            sentences = [s for st in hits[:3] for s in statement_sentences(st, by_id, ev)]
            return _Draft(intent="statement", sentences=sentences, answered=True)
        if concepts:
            assessed = [st for st in statements]
            sentences = ["No tool reported a finding on this for this case, so this report can neither confirm nor exclude it."]
            related = [m for m in measurements if m.name in named_quantities(question)]
            if related:
                sentences.append("Related measurements: " + "; ".join(f"{m.label} {m.with_unit()} {_cite('M', [m.id])}" for m in related) + ".")
            if assessed:
                sentences.append("The findings assessed were: " + "; ".join(f"{st.label} ({st.status}) {_cite('S', [st.id])}" for st in assessed[:8]) + ".")
            return _Draft(intent="statement", sentences=sentences, answered=False)

    if GUIDELINE.search(question):
        draft = _Draft(intent="guideline", sentences=[], answered=False)
        unsupported = {c for c in concepts if not any(st.status == "present" and c in statement_concepts(st) for st in statements)}
        if unsupported:
            # never quote guidance for a diagnosis the case does not have
            draft.sentences.append("The question names a diagnosis that no tool reported as present in this case, "
                                   "so no guideline passage for it is quoted.")  # fmt: skip
            draft.notes.append("Guideline search skipped: the diagnosis asked about is not a finding of this case.")
            present = [st for st in statements if st.status == "present"][:3]
            if present:
                draft.sentences.append("Findings reported as present: " + "; ".join(f"{st.label} {_cite('S', [st.id])}" for st in present) + ".")
            return draft
        try:
            passages = (search or default_search)(question, GUIDELINE_K)
        except SearchUnavailable as exc:
            passages = []
            draft.notes.append(f"Guideline search unavailable: {exc}.")
        except Exception as exc:  # retrieval must not end the conversation
            passages = []
            draft.notes.append(f"Guideline search failed: {type(exc).__name__}: {exc}.")
        if passages:
            draft.passages = passages
            draft.answered = True
            draft.sentences.append("Guideline statements that match the question are quoted below.")
            draft.sentences.extend(f"{p.citation()} {_cite('G', [p.id])}." for p in passages)
        else:
            draft.sentences.append("I found no guideline statement for this question.")
        for name in named_quantities(question):
            ms = [m for m in measurements if m.name == name]
            if ms:
                draft.sentences.extend(measurement_sentence(m) for m in ms)
            else:
                label = QUANTITY_NAMES.get(name, name.replace("_", " "))
                draft.sentences.append(f"This case has no {label} measurement; values given in the question are not results of this case.")
        return draft

    named = named_quantities(question)
    have_named = [m for m in measurements if m.name in named][:6]  # every quantity the question names
    found = match_measurements(measurements, question)
    if found and (not named or have_named):
        shown = have_named or found
        draft = _Draft(intent="measurement", sentences=[measurement_sentence(m) for m in shown], answered=True)
        if SOURCE_QUESTION.search(question):
            draft.sources = {m.id: measurement_source(view, m) for m in shown}
        return draft

    missing = [QUANTITY_NAMES.get(n, n.replace("_", " ")) for n in named if not any(m.name == n for m in measurements)]
    sentences = []
    notes = ["Ask about a measurement, a finding and its criteria, another tool option (e.g. a QTc formula), or a guideline."]
    if missing:
        sentences.append(f"This case has no {missing[0]} measurement.")
        if found:
            sentences.append("Related measurements: " + "; ".join(f"{m.label} {m.with_unit()} {_cite('M', [m.id])}" for m in found) + ".")
            if not view.studies:
                notes.insert(0, "Re-running a tool with other options needs the case thread, not only its report.")
            return _Draft(intent="measurement", sentences=sentences, answered=False, notes=notes)
    sentences.append("I cannot answer this from this case's results.")
    examples = [m for m in measurements if m.flag in ("high", "low")][:2] or measurements[:2]
    if examples:
        sentences.append("Measured values include " + "; ".join(f"{m.label} {m.with_unit()} {_cite('M', [m.id])}" for m in examples) + ".")
    present = [st for st in statements if st.status == "present"][:2]
    if present:
        sentences.append("Findings include " + "; ".join(f"{st.label} {_cite('S', [st.id])}" for st in present) + ".")
    return _Draft(intent="unanswerable", sentences=sentences, answered=False, notes=notes)


# --- LLM path -------------------------------------------------------------------


def _compose_input(view: CaseView) -> ComposeInput:
    r = view.report
    return ComposeInput(sections=r.sections, passages_for={"report": list(r.guidelines)} if r.guidelines else {},
                        supplied=r.supplied_modalities(), problems=r.rejected_inputs,
                        failed_calls=[c for c in r.provenance.tool_calls if not c.ok], unavailable=[], context=view.context)  # fmt: skip


def llm_answer(view: CaseView, question: str, backend: Backend, search: SearchFn | None, out_root: Path | None) -> tuple[str, _Draft]:
    """Tool-calling conversation; returns the model's final text (unverified)
    and what its tool calls produced."""
    from agent.backends.prompts import SEARCH_TOOL, case_data, chat_messages
    from agent.backends.toolcalls import RejectedCall, digest_text, parse_call, tool_specs

    tools = _tools_for(view)
    specs = tool_specs(tools, view.studies) if view.studies else []
    offered = specs + [SEARCH_TOOL]
    data = case_data(_compose_input(view))
    if view.extra_measurements():
        data["earlier_reruns"] = [{"id": m.id, "label": m.label, "value": m.with_unit()} for m in view.extra_measurements()]
    history = [{"question": t["question"], "answer": t["answer"]} for t in view.history]
    messages = chat_messages(data, view.context, history, question)
    draft = _Draft(intent="llm", sentences=[], answered=True)
    for _step in range(MAX_CHAT_STEPS):
        turn = backend.plan_turn(messages, offered)
        messages.append(turn.message)
        if not turn.tool_calls:
            return turn.text, draft
        for req in turn.tool_calls:
            if req.name == "search_guidelines":
                try:
                    query = str(json.loads(req.arguments or "{}").get("query", "")) or question
                    found = (search or default_search)(query, GUIDELINE_K)
                    draft.passages.extend(p for p in found if p.id not in {x.id for x in draft.passages})
                    content = json.dumps([{"id": p.id, "citation": p.citation(), "text": p.text} for p in found], ensure_ascii=False)
                except Exception as exc:
                    content = f"ERROR: guideline search failed: {exc}"
            else:
                try:
                    call = parse_call(req, tools, view.studies, specs, requested_by="chat")
                    study = next(s for s in view.studies if s.study_id == call.study_id)
                    outcome = rerun_tool(view, tools[study.modality], study, call.options, out_root)
                    draft.tool_calls.append(outcome.record)
                    if outcome.result is None:
                        content = f"ERROR: {outcome.record.error}"
                    else:
                        draft.add_result(outcome.result)
                        content = digest_text(outcome.result.model_dump(mode="json"))
                except (RejectedCall, json.JSONDecodeError) as exc:
                    content = f"ERROR: {exc}"
            messages.append({"role": "tool", "tool_call_id": req.id, "content": content})
    return "", draft


# --- entry point -------------------------------------------------------------------


def _evidence(view: CaseView, draft: _Draft) -> CaseEvidence:
    by_id = {m.id: m for m in view.measurements()}
    for m in draft.new_measurements:
        by_id[m.id] = m
    statements = {st.id: st for st in view.report.statements()}
    for st in draft.new_statements:
        statements[st.id] = st
    passages = list(view.report.guidelines) + draft.passages
    return CaseEvidence.build(by_id.values(), statements.values(), passages, view.report.supplied_modalities())


def _finish(view: CaseView, question: str, draft: _Draft, text: str, backend_name: str, fell_back: bool = False,
            notes: list[str] | None = None) -> ChatAnswer:  # fmt: skip
    ev = _evidence(view, draft)
    kept, summary = verify_answer(text, ev)
    cited = list(dict.fromkeys(i.strip() for _, ids in re.findall(r"\[(M|S|G):([^\]]+)\]", kept) for i in ids.split(",")))
    measurements = [ev.measurements[i] for i in cited if i in ev.measurements]
    passages = [p for p in draft.passages if p.id in cited]
    references = list({c.guideline.short(): c.guideline for i in cited if i in ev.statements for c in ev.statements[i].criteria
                       if c.guideline}.values())  # fmt: skip
    references += [r for r in {r.short(): r for r in draft.references}.values() if r.short() not in {x.short() for x in references}]
    answered = draft.answered and bool(kept)
    sources = [text for mid, text in draft.sources.items() if mid in cited]
    if kept and sources:
        # provenance of the cited values, from the report's own rows (file names,
        # series numbers and timings are not quantities for the number check)
        kept = kept + " " + " ".join(sources)
        draft.notes.append("The source lines restate the report's provenance of the cited measurements (study, series or file, tool, method).")
    if not kept:
        kept = "I cannot answer this from this case's results."
    if not answered:
        draft.notes.extend(quality_notes(view.report))
    return ChatAnswer(question=question, text=kept, intent=draft.intent, answered=answered, cited_ids=cited, measurements=measurements,
                      passages=passages, references=references, tool_calls=draft.tool_calls, artifacts=draft.artifacts, grounding=summary, backend=backend_name, fell_back=fell_back,
                      notes=(notes or []) + draft.notes, thread_id=view.thread_id)  # fmt: skip


def quality_notes(report: Report) -> list[str]:
    """Why a study has no values to answer from: a non-diagnostic study
    reports nothing, and the reader should hear that rather than 'no such
    measurement' alone."""
    return [f"{s.modality.display} {s.study_id} was non-diagnostic, so no measurement or finding was reported from it (reasons in the report)."
            for s in report.sections if s.quality.verdict == "non_diagnostic"]  # fmt: skip


def answer(
    thread_or_report: str | Report | Path,
    question: str,
    backend: Backend | str | None = None,
    *,
    checkpoint_db: str | Path | None = None,
    search: SearchFn | None = None,
    out_root: Path | None = None,
    save: bool = True,
) -> ChatAnswer:
    """Answer one follow-up question about a case, grounded like the report.

    `thread_or_report` is a case thread id (from `analyze`), a `Report`, or a
    report.json path; only a thread allows re-running tools. The turn is
    appended to the thread (unless `save=False`).
    """
    from agent.backends import get_backend

    question = (question or "").strip()
    if not question:
        raise ChatError("empty question")
    view = load_case(thread_or_report, checkpoint_db)
    b = backend if isinstance(backend, Backend) else get_backend(backend)
    result: ChatAnswer | None = None
    clean, flagged = split_instructions(question)
    if b.agentic and clean.strip() and on_topic(view, clean):
        notes: list[str] = [f"Ignored {len(flagged)} instruction-like sentence(s) in the question; the model saw only the rest."] if flagged else []
        prefix = IGNORED_INSTRUCTION + " " if flagged else ""
        try:
            text, draft = llm_answer(view, clean, b, search, out_root)
            result = _finish(view, question, draft, prefix + text if text else "", b.name)
            if result.grounding.sentences_removed or not text:
                reasons = [f"{r.text!r}: {r.reason}" for r in result.grounding.removed]
                retry_q = clean + "\n\n(Your previous answer broke the grounding rules; these sentences were deleted: " + "; ".join(reasons)[:2000] + ". Answer again, citing ids for every number and finding.)"  # fmt: skip
                text, draft2 = llm_answer(view, retry_q, b, search, out_root)
                draft2.merge(draft)
                result = _finish(view, question, draft2, prefix + text if text else "", b.name)
                if result.grounding.sentences_removed or not text:
                    notes.append("The language model's answer failed the grounding check twice; this answer comes from the rules.")
                    result = None
        except Exception as exc:
            notes.append(f"The language model could not answer ({type(exc).__name__}: {exc}); this answer comes from the rules.")
            result = None
        if result is None:
            draft = rules_answer(view, question, search, out_root)
            result = _finish(view, question, draft, " ".join(draft.sentences), b.name, fell_back=True, notes=notes)
        else:
            result.notes[:0] = notes
    else:
        draft = rules_answer(view, question, search, out_root)
        result = _finish(view, question, draft, " ".join(draft.sentences), b.name)
    if save:
        _save_turn(view, {
            "question": question, "answer": result.text, "intent": result.intent, "answered": result.answered,
            "cited_ids": result.cited_ids, "tool_calls": [c.model_dump(mode="json") for c in result.tool_calls],
            "artifacts": [a.model_dump(mode="json") for a in result.artifacts],
            "new_measurements": [m.model_dump(mode="json") for m in _rerun_measurements(result)],
            "backend": result.backend, "at": time.time(),
        })  # fmt: skip
    return result


def _rerun_measurements(result: ChatAnswer) -> list[Measurement]:
    """Measurements a re-run produced that the answer cites: kept on the
    thread so later questions can use them."""
    return result.measurements if result.tool_calls else []


def history(thread_id: str, checkpoint_db: str | Path | None = None) -> list[dict]:
    return load_case(thread_id, checkpoint_db).history
