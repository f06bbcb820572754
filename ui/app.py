"""The Gradio app: chat with uploads and live progress, the report panel,
sign-off, the case list and settings.

Layout: a header with the decision-support notice; tab "Case" holds the chat
(left) and the report panel with downloads and sign-off (right); "Cases"
reopens earlier threads; "Settings" chooses the backend, experts and limits.
All logic lives in `ui.session`; this module wires components to it.

Privacy: server logs carry case ids and counts only; Gradio's run history
(browser-side copies of inputs and outputs), telemetry and the monitoring
endpoint are switched off; uploads and Gradio's cache live under
$CARDIO_HOME/ui/tmp and are cleaned after a day; case folders are not served
directly — the files a page shows are linked into Gradio's folder under
unguessable names (ui.serve).
"""


import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ui.report_view import empty_panel
from ui.serve import safe_name, served, served_messages
from ui.session import CaseRunner, ContextForm, View
from ui.settings import ALL_EXPERTS, EXPERT_LABELS, UISettings, load_settings, save_settings
from ui.store import CaseStore

log = logging.getLogger("cardioagent.ui")

# short: at 1366×768 a long placeholder wraps to five lines and pushes the input below the fold
PLACEHOLDER = "Attach study files (clip or drop), add notes, press Enter · then ask follow-up questions"
CHAT_PLACEHOLDER = ("<div style='text-align:center;color:#5b6675'><b>CardioAgent</b><br>Upload a case to start: the experts measure, "
                    "the report cites the evidence behind every number, and you sign it.<br><small>Files: WFDB .hea + .dat, DICOM, NIfTI, "
                    "AVI/MP4, HDF5/MAT k-space, notes .txt/.md. Text sent with files is kept as clinical notes.</small></div>")  # fmt: skip
# Figures in the chat and the report panel open full size on click (a 12-lead ECG is unreadable at chat width);
# Escape, a click or the × closes the overlay. Delegated listener: Gradio re-renders the chat on every update.
LIGHTBOX_HEAD = """<script>
(() => {
  const close = () => { const o = document.getElementById('ca-lightbox'); if (o) o.remove(); };
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') close(); });
  document.addEventListener('click', (ev) => {
    const img = ev.target.closest && ev.target.closest('#ca-chat img, #ca-panel .ca-fig img');
    if (!img || !img.src || img.naturalWidth < 64) return;
    ev.preventDefault(); ev.stopPropagation(); close();
    const o = document.createElement('div'); o.id = 'ca-lightbox'; o.setAttribute('role', 'dialog'); o.setAttribute('aria-label', 'Figure, full size');
    const x = document.createElement('button'); x.className = 'ca-lb-close'; x.textContent = '×'; x.title = 'Close (Esc)';
    const big = document.createElement('img'); big.src = img.src; big.alt = img.alt || 'figure';
    const fit = () => big.classList.toggle('ca-lb-fit');
    big.addEventListener('click', (e) => { e.stopPropagation(); fit(); });
    o.append(x, big); o.addEventListener('click', close); document.body.append(o);
  }, true);
})();
</script>"""
# After Enter the page returns to the top, where the chat (progress) and the report panel are.
SCROLL_TOP_JS = "() => { window.scrollTo({top: 0}); }"
DOWNLOADS = [("report.pdf", "PDF report"), ("report.html", "HTML"), ("report.json", "JSON"), ("report.fhir.json", "FHIR bundle"),
             ("report.md", "Markdown")]  # fmt: skip
CASE_COLUMNS = ["Case", "Created (UTC)", "Status", "Modalities", "Findings", "Indication"]


@dataclass
class AppConfig:
    home: Path
    share_dir: Path
    auth: list[tuple[str, str]] = field(default_factory=list)
    checkpoint_db: Path | None = None


def _prepare_environment(home: Path) -> None:
    """Before Gradio is imported: no telemetry, uploads under our home."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = home / "ui" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GRADIO_TEMP_DIR", str(tmp))


def _header(user: str | None) -> str:
    who = f"<span class='ca-user'>signed in as {user}</span>" if user else ""
    return ("<div id='ca-header'><div class='ca-brand'>CardioAgent<small>cardiac decision support · ECG · echo · CMR · MR reconstruction</small></div>"
            f"<div>{who} <span class='ca-warnpill'>Decision support only — every result must be reviewed by a clinician</span></div></div>")  # fmt: skip


def _case_line(view: View) -> str:
    if view.record is None:
        return "No case open — attach files below to start one."
    status = view.report.status if view.report is not None else view.record.state
    return f"**Case** `{view.record.case_id}` · {status}"


def _case_rows(store: CaseStore, user: str | None) -> list[list[str]]:
    rows = []
    for r in store.list_cases(user):
        rows.append([r.case_id, f"{r.created_at:%Y-%m-%d %H:%M}", r.state, ", ".join(r.modalities) or "—", "; ".join(r.findings) or "—",
                     r.indication or ""])  # fmt: skip
    return rows


def llm_status(settings: UISettings) -> str:
    """What `cardioagent llm check` says about the configured backend, as Markdown."""
    if settings.backend == "rules":
        return "✓ **rules** backend: deterministic planner and composer; no language model is needed."
    try:
        from agent.backends.check import check_openai, check_transformers
        from agent.backends.config import load_config
    except ModuleNotFoundError:
        return "`llm check` is not available in this build; the backend is tried when a case runs (and falls back to the rules)."
    try:
        config = load_config(**settings.llm_overrides())
        report = check_openai(config) if settings.backend == "openai" else check_transformers(config)
    except Exception as exc:  # a failing check is a status, not a crash
        return f"✗ **check failed:** {type(exc).__name__}: {exc}"
    mark = {"ok": "✓", "fail": "✗", "warn": "⚠", "info": "·"}
    head = (f"{'✓ **Ready**' if report.ok else '✗ **Not ready**'} — {report.backend} backend at `{report.endpoint}`"
            + (f", model `{report.model}`" if report.model else ""))  # fmt: skip
    rows = "\n".join(f"| {mark.get(i.status, i.status)} {i.status} | {i.name} | {i.detail.replace('|', '/')}"
                     + (f" ({i.seconds:.2f} s)" if i.seconds else "") + " |" for i in report.items)  # fmt: skip
    tail = "" if report.ok else "\n\nCases still run: when the model fails, the rules backend writes the report (noted in its provenance)."
    return f"{head}\n\n| status | check | detail |\n|---|---|---|\n{rows}{tail}"


def build_app(config: AppConfig):
    _prepare_environment(config.home)
    import gradio as gr

    store = CaseStore(config.share_dir, config.home)
    current: dict[str, UISettings] = {"settings": load_settings(config.home)}
    runner = CaseRunner(store, lambda: current["settings"], config.checkpoint_db)

    def user_of(request: gr.Request | None) -> str | None:
        return getattr(request, "username", None) if request is not None else None

    def download_updates(paths: list[str], case_id: str | None) -> list:
        """Downloads are saved as <case-id>_report.pdf etc.: reports of several patients must not all be report (1).pdf."""
        prefix = f"{safe_name(case_id)}_" if case_id else ""
        by_name = {Path(p).name: served(p, prefix + Path(p).name) for p in paths}
        return [gr.DownloadButton(value=by_name.get(name), visible=by_name.get(name) is not None) for name, _label in DOWNLOADS]

    def outputs(view: View, state: dict, *, busy: bool = False) -> tuple:
        if view.record is not None:
            state = {**state, "case_id": view.record.case_id}
        can_sign = view.report is not None
        tool_links = [x for x in (served(p) for p in view.outputs) if x]
        kept = {"text": view.keep_text or "", "files": list(view.keep_files)} if (view.keep_files or view.keep_text) else None
        return (
            served_messages(view.messages),
            gr.MultimodalTextbox(value=kept, interactive=not busy),
            view.panel,
            *download_updates(view.downloads, view.record.case_id if view.record is not None else None),
            view.signoff,
            gr.Button(interactive=can_sign and not busy and (view.report.status == "preliminary")),
            gr.Button(interactive=can_sign and not busy),
            _case_line(view),
            gr.Group(visible=view.report is not None),
            gr.File(value=tool_links or None, visible=bool(tool_links)),
            gr.Markdown(view.context_error, visible=bool(view.context_error)),
            state,
        )

    with gr.Blocks(title="CardioAgent", fill_width=True, delete_cache=(3600, 86400), analytics_enabled=False) as demo:
        state = gr.State({"case_id": None})
        header = gr.HTML(_header(None), elem_id="ca-header-wrap", apply_default_css=False)
        with gr.Tabs(selected="case") as tabs:
            with gr.Tab("Case", id="case"):
                with gr.Row(equal_height=False, elem_id="ca-case-row"):
                    with gr.Column(scale=5, min_width=420, elem_id="ca-left"):
                        with gr.Row(equal_height=True):
                            case_md = gr.Markdown("No case open", elem_id="ca-case-id")
                            new_case = gr.Button("New case", size="sm", variant="secondary", elem_id="ca-new", scale=0, min_width=110)
                        # the chat fills the viewport under the header, leaving room for the input and the context bar (theme.CSS)
                        chat = gr.Chatbot(elem_id="ca-chat", height="calc(100dvh - 340px)", min_height=240, layout="panel", placeholder=CHAT_PLACEHOLDER, show_label=False,
                                          buttons=["copy"], feedback_options=None, group_consecutive_messages=False, autoscroll=True)  # fmt: skip
                        box = gr.MultimodalTextbox(elem_id="ca-input", file_count="multiple", sources=["upload"], placeholder=PLACEHOLDER,
                                                   show_label=False, lines=1, max_lines=8, max_plain_text_length=20000)  # fmt: skip
                        with gr.Accordion("Clinical context (optional): age, sex, size, indication", open=False, elem_id="ca-context"):
                            context_error = gr.Markdown("", visible=False, elem_id="ca-context-error")
                            with gr.Row():
                                # text, not gr.Number: an untouched Number reads 0 (a 0-year-old patient); empty here means not given
                                age = gr.Textbox(label="Age (years)", placeholder="not given", max_lines=1, elem_id="ca-age")
                                sex = gr.Dropdown(["not given", "female", "male"], value="not given", label="Sex", elem_id="ca-sex")
                                height = gr.Textbox(label="Height (cm)", placeholder="not given", max_lines=1, elem_id="ca-height")
                                weight = gr.Textbox(label="Weight (kg)", placeholder="not given", max_lines=1, elem_id="ca-weight")
                            indication = gr.Textbox(label="Indication", placeholder="e.g. syncope; palpitations; pre-operative", max_lines=2,
                                                    elem_id="ca-indication")  # fmt: skip
                    with gr.Column(scale=7, min_width=520, elem_id="ca-right"):
                        panel = gr.HTML(empty_panel(), elem_id="ca-panel", padding=False, apply_default_css=False)
                        with gr.Row(elem_id="ca-downloads"):
                            download_btns = [gr.DownloadButton(label, value=None, visible=False, size="sm", variant="secondary",
                                                               elem_id=f"ca-dl-{name.replace('.', '-')}", min_width=90)
                                             for name, label in DOWNLOADS]  # fmt: skip
                        tool_files = gr.File(label="Tool outputs (masks, DICOM SEG, reconstructed series, annotated clips)", file_count="multiple",
                                             interactive=False, visible=False, elem_id="ca-tool-outputs")  # fmt: skip
                        with gr.Group(elem_id="ca-signoff", visible=False) as signoff_group:
                            signoff_md = gr.Markdown("", elem_id="ca-signoff-status")
                            # one row: the sign-off stays in view under the report at 1366×768
                            with gr.Row(equal_height=True):
                                clinician = gr.Textbox(label="Clinician (name, role)", placeholder="Clinician: Dr … , cardiologist", scale=2,
                                                       show_label=False, max_lines=1, elem_id="ca-clinician", min_width=150)  # fmt: skip
                                comment = gr.Textbox(label="Comment / amendment", placeholder="Comment (required to amend)", scale=2,
                                                     show_label=False, max_lines=1, elem_id="ca-comment", min_width=150)  # fmt: skip
                                sign_btn = gr.Button("Sign (final)", variant="primary", interactive=False, elem_id="ca-sign", scale=1, min_width=110, size="md")
                                amend_btn = gr.Button("Amend", variant="secondary", interactive=False, elem_id="ca-amend", scale=1, min_width=90, size="md")
            with gr.Tab("Cases", id="cases") as cases_tab:
                gr.Markdown("Earlier cases of this user. Select a row, then open it to continue its chat, download or sign its report.")
                cases_table = gr.Dataframe(headers=CASE_COLUMNS, value=[], interactive=False, wrap=True, elem_id="ca-cases")
                with gr.Row():
                    case_pick = gr.Dropdown(choices=[], label="Case", elem_id="ca-case-pick", allow_custom_value=False)
                    open_btn = gr.Button("Open case", variant="primary", elem_id="ca-open")
                    refresh_btn = gr.Button("Refresh", elem_id="ca-refresh")
            with gr.Tab("Settings", id="settings"):
                s = current["settings"]
                with gr.Row():
                    with gr.Column():
                        gr.Markdown("### Orchestrator")
                        backend = gr.Radio(["rules", "openai", "transformers"], value=s.backend, label="Backend",
                                           info="rules: deterministic, no LLM · openai: any OpenAI-compatible server (vLLM, Ollama, llama.cpp) · transformers: local model")  # fmt: skip
                        base_url = gr.Textbox(value=s.base_url or "", label="Endpoint (openai)", placeholder="http://127.0.0.1:8000/v1")
                        model = gr.Textbox(value=s.model or "", label="Model name (openai; empty = the endpoint's first model)")
                        model_dir = gr.Textbox(value=s.model_dir or "", label="Model directory (transformers)")
                        check_btn = gr.Button("Check LLM backend", elem_id="ca-llm-check")
                        llm_md = gr.Markdown("", elem_id="ca-llm-status")
                    with gr.Column():
                        gr.Markdown("### Analysis")
                        experts = gr.CheckboxGroup([(EXPERT_LABELS[m], m) for m in ALL_EXPERTS], value=s.enabled_experts, label="Enabled experts")
                        retrieval = gr.Checkbox(value=s.retrieval, label="Cite guideline passages (local index; built on first use)")
                        partial = gr.Checkbox(value=s.allow_partial, label="Analyse the usable files when some are unusable (they are listed in the report)")
                        max_mb = gr.Number(value=s.max_upload_mb, label="Upload size limit per file (MB)", minimum=1, maximum=65536, precision=0)
                        auth_note = "on — users listed with `--auth`" if config.auth else "off — start with `--auth USER:PASS` to require a login"
                        gr.Markdown(f"**Basic authentication:** {auth_note}.  \n**Case folder:** `{config.share_dir}`  \n"
                                    "Server logs record case ids and counts only, never file names, notes or results.")  # fmt: skip
                save_btn = gr.Button("Save settings", variant="primary", elem_id="ca-save-settings")
                settings_md = gr.Markdown("", elem_id="ca-settings-status")

        main_outputs = [chat, box, panel, *download_btns, signoff_md, sign_btn, amend_btn, case_md, signoff_group, tool_files, context_error, state]

        # --- handlers --------------------------------------------------------

        def on_submit(message: dict | None, age_v, sex_v, height_v, weight_v, indication_v, st: dict, request: gr.Request):
            user = user_of(request)
            message = message or {}
            files = list(message.get("files") or [])
            text = (message.get("text") or "").strip()
            if files:
                form = ContextForm(age=age_v, sex=None if sex_v in (None, "", "not given") else sex_v, height_cm=height_v, weight_kg=weight_v,
                                   indication=indication_v)  # fmt: skip
                yield from stream(runner.start(user, files, text, form), st)
                return
            record = store.get(user, st.get("case_id")) if st.get("case_id") else None
            if not text:
                return
            if record is None:
                view = View(messages=[{"role": "user", "content": text},
                                      {"role": "assistant", "content": "Attach the study files first (clip button or drag and drop): a question needs a case to answer from."}])  # fmt: skip
                yield outputs(view, st)
                return
            yield from stream(runner.follow_up(record, store.load_transcript(record), text), st)

        def stream(views, st: dict):
            """Yield each view with the input locked, then the last one with it
            unlocked — also after an unexpected error, which is reported in
            the chat (type only in the log: messages can carry names)."""
            view = None
            try:
                for view in views:
                    yield outputs(view, st, busy=True)
            except Exception as exc:
                log.error("UI handler failed: %s", type(exc).__name__)
                log.debug("UI handler failed", exc_info=True)
                view = view or View()
                view.messages = view.messages + [{"role": "assistant", "content": f"✗ Internal error ({type(exc).__name__}: {exc}). "
                                                  "Please report it; the case folder keeps what was done so far."}]  # fmt: skip
            if view is not None:
                yield outputs(view, st)

        def on_sign(action: str):
            def handler(name: str, comment_v: str, st: dict, request: gr.Request):
                record = store.get(user_of(request), st.get("case_id")) if st.get("case_id") else None
                if record is None:
                    return outputs(View(signoff="✗ No case is open."), st) + (comment_v,)
                view = runner.sign(record, store.load_transcript(record), name or "", comment_v or "", action)
                ok = not view.signoff.startswith("✗")
                return outputs(view, st) + ("" if ok else comment_v,)

            return handler

        def on_new(st: dict):
            """A new case starts with an empty clinical context: the previous
            patient's age, sex, size and indication must not carry over."""
            return outputs(View(), {"case_id": None}) + ("", "", "not given", "", "")

        def list_cases(request: gr.Request):
            user = user_of(request)
            rows = _case_rows(store, user)
            return rows, gr.Dropdown(choices=[r[0] for r in rows], value=rows[0][0] if rows else None)

        def pick_row(evt: gr.SelectData, table):
            try:
                row = evt.index[0]
                return table.iloc[row, 0] if hasattr(table, "iloc") else table[row][0]
            except Exception:
                return gr.skip()

        def open_case(case_id: str | None, st: dict, request: gr.Request):
            record = store.get(user_of(request), case_id) if case_id else None
            if record is None:
                return outputs(View(), st) + (gr.Tabs(),)
            view = runner.reopen_view(record)
            return outputs(view, st) + (gr.Tabs(selected="case"),)

        def on_save(backend_v, base_url_v, model_v, model_dir_v, experts_v, retrieval_v, partial_v, max_mb_v):
            try:
                new = UISettings(backend=backend_v, base_url=base_url_v, model=model_v, model_dir=model_dir_v, enabled_experts=experts_v or [],
                                 retrieval=bool(retrieval_v), allow_partial=bool(partial_v), max_upload_mb=int(max_mb_v or 0))  # fmt: skip
            except ValueError as exc:
                return f"✗ Not saved: {exc}"
            current["settings"] = new
            save_settings(config.home, new)
            demo.max_file_size = new.max_upload_bytes
            log.info("settings saved: backend=%s experts=%s", new.backend, ",".join(new.enabled_experts))
            return f"✓ Saved. Backend **{new.backend}**, experts: {', '.join(new.enabled_experts) or 'none'}, upload limit {new.max_upload_mb} MB."

        def on_check(backend_v, base_url_v, model_v, model_dir_v):
            """Check what the form says (saved or not): the clinician tests an endpoint before saving it."""
            try:
                probe = UISettings(**{**current["settings"].model_dump(), "backend": backend_v, "base_url": base_url_v, "model": model_v, "model_dir": model_dir_v})
            except ValueError as exc:
                return f"✗ {exc}"
            return llm_status(probe)

        def on_load(request: gr.Request):
            return _header(user_of(request))

        box.submit(on_submit, [box, age, sex, height, weight, indication, state], main_outputs, api_name="submit",
                   concurrency_limit=2, show_progress="hidden")  # fmt: skip
        box.submit(None, None, None, js=SCROLL_TOP_JS, api_visibility="private")
        sign_btn.click(on_sign("signed"), [clinician, comment, state], main_outputs + [comment], api_name="sign")
        amend_btn.click(on_sign("amended"), [clinician, comment, state], main_outputs + [comment], api_name="amend")
        new_case.click(on_new, [state], main_outputs + [indication, age, sex, height, weight], api_name="new_case")
        refresh_btn.click(list_cases, None, [cases_table, case_pick], api_name="list_cases")
        cases_tab.select(list_cases, None, [cases_table, case_pick], api_visibility="private")
        cases_table.select(pick_row, [cases_table], [case_pick], api_visibility="private")
        open_btn.click(open_case, [case_pick, state], main_outputs + [tabs], api_name="open_case")
        save_btn.click(on_save, [backend, base_url, model, model_dir, experts, retrieval, partial, max_mb], [settings_md], api_name="save_settings")
        check_btn.click(on_check, [backend, base_url, model, model_dir], [llm_md], api_name="check_llm")
        demo.load(on_load, None, [header], api_visibility="private")

    demo.max_file_size = current["settings"].max_upload_bytes
    return demo


def launch_app(config: AppConfig, *, host: str = "127.0.0.1", port: int | None = None, block: bool = True, quiet: bool = False):
    """Start the server. Returns (demo, local_url)."""
    from ui.theme import CSS, theme

    demo = build_app(config)
    demo.queue(default_concurrency_limit=4)
    _app, url, _share = demo.launch(
        server_name=host,
        server_port=port,
        auth=config.auth or None,
        auth_message="CardioAgent — sign in to continue" if config.auth else None,
        max_file_size=demo.max_file_size,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=True,
        footer_links=[],  # a clinical UI: no "Use via API" / "Built with Gradio" footer
        run_history=False,
        enable_monitoring=False,
        ssr_mode=False,
        mcp_server=False,
        theme=theme(),
        css=CSS,
        head=LIGHTBOX_HEAD,
    )
    return demo, url
