"""Look of the clinician UI: a sober, dense, light theme.

Why explicit colours in the report panel: a report must read the same in
every browser theme and in printed screenshots; status and flags use the
conventions of clinical systems (red for out of range, amber for limited
quality, green for signed) and never rely on colour alone (▲/▼ marks,
words).
"""

from __future__ import annotations

CSS = """
:root { --ca-ink:#1c2530; --ca-muted:#5b6675; --ca-line:#d5dbe3; --ca-soft:#f3f5f8; --ca-accent:#0b5cad;
        --ca-red:#b42318; --ca-amber:#9a6700; --ca-green:#1a7f37; --ca-violet:#6e40c9; }
.gradio-container { max-width: 1680px !important; }
#ca-header { display:flex; align-items:center; justify-content:space-between; gap:16px; padding:10px 16px; border-radius:8px;
             background:#0f2a44; color:#fff; }
#ca-header .ca-brand { font-size:1.15rem; font-weight:700; letter-spacing:.2px; color:#fff !important; }
#ca-header .ca-brand small { font-weight:400; opacity:.8; margin-left:8px; }
#ca-header .ca-warnpill { background:#fff3cd; color:#5c4400; border-radius:12px; padding:3px 10px; font-size:.78rem; font-weight:600; }
#ca-header .ca-user { font-size:.8rem; opacity:.85; color:#fff; margin-right:10px; }

/* report panel */
.ca-report { background:#fff; color:var(--ca-ink); border:1px solid var(--ca-line); border-radius:8px; padding:14px 16px;
             font-size:13.5px; line-height:1.45; max-height:calc(100dvh - 290px); min-height:300px; overflow-y:auto; }
.ca-report a { color:var(--ca-accent); text-decoration:none; } .ca-report a:hover { text-decoration:underline; }
.ca-report [id] { scroll-margin-top:72px; }
.ca-empty { min-height:240px; }
.ca-head { display:flex; justify-content:space-between; align-items:flex-start; gap:12px; position:sticky; top:-14px; z-index:3;
           background:#fff; margin:-14px -16px 0; padding:12px 16px 8px; border-bottom:1px solid var(--ca-line); }
.ca-title { font-size:1.1rem; font-weight:700; }
.ca-statusbox { text-align:right; flex-shrink:0; } .ca-signedby { font-size:.72rem; color:var(--ca-muted); margin-top:3px; line-height:1.3; }
.ca-muted { color:var(--ca-muted); } .ca-meta { font-size:.82rem; margin-bottom:6px; }
.ca-status { display:inline-block; padding:4px 10px; border-radius:14px; font-weight:700; font-size:.78rem; white-space:nowrap;
             border:1px solid transparent; }
.ca-status-preliminary { background:#e8f1fb; color:#0b4f94; border-color:#b6d2f2; }
.ca-status-final { background:#dafbe1; color:#116329; border-color:#9ad7a8; }
.ca-status-amended { background:#f3ecff; color:#5a32a3; border-color:#cdb8f5; }
.ca-patient { display:flex; flex-wrap:wrap; gap:18px; margin:10px 0 6px; padding:6px 10px; background:var(--ca-soft); border-radius:6px; font-size:.86rem; }
.ca-patient b { color:var(--ca-muted); font-weight:600; margin-right:6px; }
.ca-disclaimer { font-size:.78rem; color:#5c4400; background:#fff8e1; border-left:3px solid #d4a72c; padding:6px 10px; margin:8px 0; }
.ca-h { font-size:.95rem; font-weight:700; margin:16px 0 6px; padding-bottom:3px; border-bottom:2px solid var(--ca-line); }
.ca-impression { margin:0; padding-left:0; list-style:none; } .ca-impression li { margin:4px 0; }
.ca-imp summary { cursor:pointer; padding:3px 4px; border-radius:4px; } .ca-imp summary:hover { background:var(--ca-soft); }
.ca-num { font-weight:700; margin:0 6px 0 2px; color:var(--ca-muted); }
.ca-imp[open] > summary { font-weight:600; }
.ca-imptext { margin-left:6px; }
.ca-kind { display:inline-block; font-size:.68rem; text-transform:uppercase; letter-spacing:.4px; padding:1px 6px; border-radius:4px;
           background:var(--ca-soft); color:var(--ca-muted); border:1px solid var(--ca-line); }
/* red is kept for values a tool flagged outside their reference range; a finding (sinus rhythm is one) is not abnormal by itself */
.ca-kind-finding { background:#eef2f8; color:#1f3b63; border-color:#c9d5e6; }
.ca-kind-recommendation { background:#eef6ff; color:var(--ca-accent); border-color:#bcd6f3; }
.ca-evidence { margin:6px 0 10px 4px; padding:8px 10px; border-left:3px solid var(--ca-accent); background:#fafbfd; }
.ca-evh { font-size:.75rem; text-transform:uppercase; letter-spacing:.4px; color:var(--ca-muted); margin:8px 0 3px; font-weight:700; }
.ca-hint { font-size:.76rem; color:var(--ca-muted); margin-top:4px; }
.ca-report table { border-collapse:collapse; width:100%; margin:4px 0 10px; font-size:.82rem; table-layout:auto; border:0; }
.ca-report th, .ca-report td { border:0; border-bottom:1px solid var(--ca-line); padding:4px 6px; text-align:left; vertical-align:top; }
.ca-report thead th { background:var(--ca-soft); color:var(--ca-muted); font-weight:600; font-size:.74rem; text-transform:uppercase; letter-spacing:.3px; }
.ca-val { font-weight:700; white-space:nowrap; font-variant-numeric:tabular-nums; }
.ca-label { min-width:130px; } .ca-ev { min-width:170px; }
.ca-flag { white-space:nowrap; font-weight:600; }
.ca-flag-high, .ca-flag-low, .ca-flag-abnormal { color:var(--ca-red); } .ca-flag-normal { color:var(--ca-green); font-weight:400; }
tr.ca-abn td { background:#fff6f5; }
.ca-ref { min-width:110px; max-width:230px; }
.ca-refsrc { font-size:.7rem; color:var(--ca-muted); } .ca-refsrc summary { cursor:pointer; color:var(--ca-accent); } .ca-nowrap { white-space:nowrap; } .ca-ev { font-size:.76rem; color:#3a4452; }
.ca-src { font-size:.72rem; color:var(--ca-muted); }
.ca-code { font-size:.68rem; color:var(--ca-muted); font-family:ui-monospace,monospace; }
.ca-unit { font-weight:400; font-size:.68rem; text-transform:none; }
.ca-compact td, .ca-compact th { padding:3px 5px; }
.ca-matrix td, .ca-matrix th { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.ca-matrix th.ca-lead { text-align:left; background:var(--ca-soft); }
.ca-scroll { overflow-x:auto; }
.ca-pill { display:inline-block; border-radius:10px; padding:0 7px; font-size:.72rem; font-weight:600; }
.ca-pill-present { background:#e3ebf6; color:#1f3b63; } .ca-pill-absent { background:#eef1f4; color:var(--ca-muted); }
.ca-pill-indeterminate { background:#fff4d6; color:var(--ca-amber); }
.ca-criteria { margin:0; padding-left:16px; } .ca-met { color:var(--ca-green); font-weight:600; } .ca-notmet { color:var(--ca-muted); }
.ca-q { display:inline-block; border-radius:10px; padding:0 7px; font-size:.7rem; font-weight:600; vertical-align:middle; }
.ca-q-usable { background:#dafbe1; color:#116329; } .ca-q-limited { background:#fff4d6; color:var(--ca-amber); }
.ca-q-non_diagnostic { background:#fde7e5; color:var(--ca-red); }
.ca-fig { margin:8px 0; border:1px solid var(--ca-line); border-radius:6px; padding:6px; background:#fff; }
.ca-fig img { width:100%; height:auto; display:block; } .ca-fig figcaption { font-size:.76rem; color:var(--ca-muted); margin-top:4px; }
.ca-block { margin:8px 0; } .ca-block > summary { cursor:pointer; font-weight:600; color:var(--ca-ink); padding:4px 0; }
.ca-guide { margin:4px 0; border:1px solid var(--ca-line); border-radius:6px; padding:4px 8px; background:#fff; }
.ca-guide summary { cursor:pointer; font-size:.82rem; }
.ca-guide blockquote { margin:6px 0; padding:4px 10px; border-left:3px solid #bcd6f3; color:#2d3948; font-size:.82rem; }
.ca-warn { background:#fff8e1; border:1px solid #f0d58c; border-radius:6px; padding:6px 10px; font-size:.8rem; margin:6px 0; }
.ca-warn ul, .ca-limits { margin:2px 0; padding-left:18px; } .ca-limits li { font-size:.83rem; }
.ca-error { background:#fff1f0; border:1px solid #f5c2bd; color:#7a1410; border-radius:6px; padding:8px 12px; margin-top:8px; }
.ca-error ul { margin:4px 0 0; padding-left:20px; }
.ca-running { display:flex; align-items:center; gap:10px; margin-top:10px; color:var(--ca-muted); }
.ca-spinner { width:16px; height:16px; border:2px solid #bcd6f3; border-top-color:var(--ca-accent); border-radius:50%; animation:ca-spin 1s linear infinite; }
@keyframes ca-spin { to { transform:rotate(360deg); } }
.ca-notes { white-space:pre-wrap; background:var(--ca-soft); padding:8px; border-radius:6px; font-size:.8rem; }
.ca-cite { font-size:.62rem; vertical-align:super; margin-left:1px; }
.ca-signoffs { padding-left:18px; }

/* laptop layout (1366×768): everything sized to the viewport. The chat fills the height left under the header
   (its height is set in ui.app), the input sits right under it, and the right column (report, downloads,
   sign-off) sticks to the top of the window so it stays in view however far the left column is scrolled. */
/* Gradio's container clips with overflow:hidden, which would disable position:sticky below it; clip does not */
.gradio-container { padding-top:4px !important; padding-bottom:0 !important; overflow:clip !important; }
#ca-header { padding:6px 14px; }
#ca-right { position:sticky; top:6px; align-self:flex-start; }
#ca-case-row { align-items:flex-start; }
#ca-left { gap:8px; }
#ca-input textarea { min-height:0; }
#ca-context-error { background:#fff1f0; border:1px solid #f5c2bd; color:#7a1410; border-radius:6px; padding:4px 10px; }
#ca-context-error p, #ca-context-error ul { margin:2px 0; }
#ca-downloads { gap:6px; }
#ca-signoff-status p { margin:2px 0; }
#ca-signoff button { min-height:38px; white-space:nowrap; }
#ca-signoff textarea { min-height:0; }
@media (max-height: 820px) {
  .ca-report { max-height:calc(100dvh - 322px); }
  #ca-header .ca-brand small { display:none; }
}

/* figures: readable in the chat, full size on click (LIGHTBOX_HEAD in ui.app) */
#ca-chat img, #ca-panel .ca-fig img { cursor:zoom-in; }
#ca-chat .message img, #ca-chat .message-content img { max-width:100% !important; width:100%; height:auto !important; max-height:none !important;
                                                       object-fit:contain; }
#ca-lightbox { position:fixed; inset:0; z-index:10000; background:rgba(15,23,32,.88); overflow:auto; cursor:zoom-out;
               display:flex; align-items:flex-start; justify-content:flex-start; padding:28px 12px; }
#ca-lightbox img { max-width:none; margin:0 auto; flex:none; background:#fff; cursor:zoom-in; box-shadow:0 4px 24px rgba(0,0,0,.4); }
#ca-lightbox img.ca-lb-fit { max-width:100%; max-height:calc(100vh - 56px); cursor:zoom-out; }
#ca-lightbox .ca-lb-close { position:fixed; top:8px; right:16px; font-size:28px; line-height:1; color:#fff; background:transparent;
                            border:0; cursor:pointer; }

/* chat */
#ca-chat .message { font-size:14px; }
#ca-chat table.ca-answer { font-size:12.5px; border-collapse:collapse; margin-top:6px; }
#ca-chat table.ca-answer td, #ca-chat table.ca-answer th { border:1px solid #d5dbe3; padding:3px 6px; vertical-align:top; }
#ca-chat table.ca-answer th, #ca-chat table.ca-answer td:nth-child(2), #ca-chat table.ca-answer td:nth-child(3) { white-space:nowrap; }
#ca-signoff-status p { margin:4px 0; }
.ca-small { font-size:.8rem; color:#5b6675; }
"""

# Light mode regardless of the browser's preference: the report colours assume it.
FORCE_LIGHT_JS = """
() => {
  const url = new URL(window.location);
  if (url.searchParams.get('__theme') !== 'light') { url.searchParams.set('__theme', 'light'); window.location.replace(url.href); }
}
"""


def theme():
    import gradio as gr

    # System fonts only: the default theme would fetch a web font, and the
    # UI must work without any network.
    return gr.themes.Default(primary_hue="blue", secondary_hue="slate", neutral_hue="slate", radius_size="sm",
                             font=["system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
