"""End to end in a real browser: Playwright driving Debian's chromium
(never a downloaded browser) against the app on 127.0.0.1.

Upload the bundled LUDB ECG, watch progress, wait for the report, check the
measurement table and that the ECG image rendered, open an impression
item's evidence, ask a follow-up, sign the report; then a corrupt file and
its error. Screenshots and the upload-to-report time go to the test's
artifact folder (CARDIO_TEST_OUTPUT in CI).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.ui.conftest import LUDB, chromium_path, corrupt_file

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
REPORT_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    exe = chromium_path()
    if exe is None:
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium; .ci/run installs it with apt)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _shot(page, artifact_dir, name: str, full: bool = False) -> str:
    path = artifact_dir / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full)
    return str(path)


def _chat_text(page) -> str:
    return page.locator("#ca-chat").inner_text()


def _upload(page, files) -> None:
    page.set_input_files("#ca-input input[type=file]", [str(f) for f in files])
    page.wait_for_function(f"document.querySelectorAll('#ca-input .delete-button').length >= {len(files)}", timeout=30_000)


def _send(page, text: str = "") -> None:
    box = page.locator("#ca-input textarea")
    if text:
        box.fill(text)
    box.press("Enter")


def _image_rendered(page, selector: str) -> bool:
    return page.evaluate(f"""() => {{
        const imgs = [...document.querySelectorAll({selector!r})];
        return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 200);
    }}""")


def test_ecg_case_in_the_browser(ui_server, browser, artifact_dir):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(ui_server.url)
    page.wait_for_selector("#ca-input textarea")
    shots = [_shot(page, artifact_dir, "01-start")]

    # clinical context, then the two WFDB files (each lands in its own temp folder)
    page.get_by_text("Clinical context").click()
    page.locator("#ca-age input, #ca-age textarea").first.fill("51")
    page.locator("#ca-indication textarea").fill("dizziness")
    _upload(page, [LUDB / "1.hea", LUDB / "1.dat"])
    t0 = time.perf_counter()
    _send(page, "Referral note: episodes of dizziness.")
    page.wait_for_selector("#ca-chat >> text=Analysing", timeout=30_000)
    page.wait_for_selector("#ca-chat >> text=Found: ECG", timeout=60_000)  # intake done, the expert runs
    shots.append(_shot(page, artifact_dir, "02-progress"))
    page.wait_for_selector("#ca-panel section .ca-mtable", timeout=REPORT_TIMEOUT_MS)
    page.wait_for_selector("#ca-chat >> text=Report ready", timeout=30_000)
    upload_to_report_s = time.perf_counter() - t0

    # the report: measurement table with units and reference ranges, the ECG image in chat and panel
    page.wait_for_function("() => [...document.querySelectorAll('#ca-chat img')].some(i => i.complete && i.naturalWidth > 200)", timeout=30_000)
    assert _image_rendered(page, "#ca-panel figure img")
    table = page.locator("#ca-panel section .ca-mtable").first
    assert "Heart rate" in table.inner_text() and "bpm" in table.inner_text()
    assert page.locator("#ca-panel .ca-status-preliminary").is_visible()
    page.locator("#ca-chat").get_by_text("Analysis complete").click()  # the progress block folds when done; open it
    page.wait_for_selector("#ca-chat >> text=ecg_analyze on ecg-1", timeout=10_000)
    shots.append(_shot(page, artifact_dir, "03-report"))
    shots.append(_shot(page, artifact_dir, "03-report-full", full=True))

    # an impression item opens to its evidence
    page.locator("#ca-panel .ca-imp summary").first.click()
    evidence = page.locator("#ca-panel .ca-imp[open] .ca-evidence").first
    evidence.wait_for(state="visible")
    assert "met" in evidence.inner_text()
    evidence.scroll_into_view_if_needed()
    shots.append(_shot(page, artifact_dir, "04-evidence"))
    # its figure link jumps to the plot inside the report panel
    evidence.locator("a[href^='#ca-f-']").first.click()
    page.wait_for_function("""() => { const f = document.querySelector('#ca-panel figure'); const p = document.querySelector('#ca-panel .ca-report');
        const a = f.getBoundingClientRect(), b = p.getBoundingClientRect(); return a.top < b.bottom && a.bottom > b.top; }""", timeout=10_000)
    shots.append(_shot(page, artifact_dir, "04b-figure"))

    # a follow-up question in the same thread
    _send(page, "What was the QTc by Fridericia?")
    from ui import followup

    expect = "QTc Fridericia was" if followup.available() else "not available in this build"
    page.wait_for_selector(f"#ca-chat >> text={expect}", timeout=120_000)
    shots.append(_shot(page, artifact_dir, "05-followup"))

    # sign-off: preliminary → final
    page.locator("#ca-clinician textarea, #ca-clinician input").first.fill("Dr Browser Test, cardiologist")
    page.locator("#ca-comment textarea, #ca-comment input").first.fill("Agree.")
    page.locator("#ca-sign").click()
    page.wait_for_selector("#ca-panel .ca-status-final", timeout=30_000)
    assert "Signed" in page.locator("#ca-signoff-status").inner_text()
    shots.append(_shot(page, artifact_dir, "06-signed"))

    # a re-analysis with other options after signing: its figure appears in the chat under the answer,
    # and the signed report stays the one shown and downloaded, with who and when
    if followup.available():
        n_images = page.locator("#ca-chat img").count()
        _send(page, "Re-run the ECG analysis with Bazett")
        page.wait_for_selector("#ca-chat >> text=re-run of ecg_analyze on ecg-1 with qtc_formula=bazett", timeout=180_000)
        shots.append(_shot(page, artifact_dir, "06b-rerun-after-signing"))
        page.wait_for_function(f"""() => {{ const imgs = [...document.querySelectorAll('#ca-chat img')]; const last = imgs[imgs.length - 1];
            if (imgs.length <= {n_images} || !last) return false; last.scrollIntoView(); return last.complete && last.naturalWidth > 200; }}""",
                               timeout=30_000)  # fmt: skip
        assert page.locator("#ca-panel .ca-status-final").is_visible()
        assert "Dr Browser Test" in page.locator("#ca-panel .ca-signedby").inner_text()
        with page.expect_download(timeout=30_000) as dl:
            page.locator("#ca-dl-report-html").click()
        signed_html = open(dl.value.path(), encoding="utf-8").read()
        assert "FINAL" in signed_html and "Signed by Dr Browser Test, cardiologist at" in signed_html

    # a corrupt file: a clear error, no report
    page.locator("#ca-new").click()
    page.wait_for_selector("#ca-panel .ca-empty", timeout=30_000)
    # a new case does not inherit the previous patient's clinical context
    page.wait_for_function("() => document.querySelector('#ca-age input, #ca-age textarea').value === ''", timeout=10_000)
    assert page.locator("#ca-indication textarea").input_value() == ""
    _upload(page, [corrupt_file(artifact_dir / "inputs")])
    _send(page)
    page.wait_for_selector("#ca-chat >> text=No report", timeout=60_000)
    assert "binary file of unknown format" in _chat_text(page)
    assert page.locator("#ca-panel .ca-error").is_visible()
    shots.append(_shot(page, artifact_dir, "07-corrupt"))

    # the case list shows both cases
    page.get_by_role("tab", name="Cases").click()
    page.wait_for_selector("#ca-cases >> text=final", timeout=30_000)
    shots.append(_shot(page, artifact_dir, "08-cases"))

    # settings: the backend's `llm check` status
    page.get_by_role("tab", name="Settings").click()
    page.locator("#ca-llm-check").click()
    page.wait_for_selector("#ca-llm-status >> text=no language model is needed", timeout=30_000)
    shots.append(_shot(page, artifact_dir, "09-settings"))
    page.close()

    (artifact_dir / "timing.json").write_text(json.dumps({"upload_to_report_s": round(upload_to_report_s, 2), "screenshots": shots}, indent=1))
    print(f"\nupload → report for examples/ecg/ludb-1 in the browser: {upload_to_report_s:.1f} s; screenshots in {artifact_dir}")


def _rect(page, selector: str) -> dict:
    return page.evaluate(f"""() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();
        return {{top: r.top, bottom: r.bottom, height: r.height, vh: window.innerHeight, scrollY: window.scrollY}}; }}""")


def test_laptop_layout_context_errors_and_download_names(ui_server, browser, artifact_dir):
    """At 1366×768 (a clinic laptop): the input is visible on load; a bad
    clinical context lists every bad field at once and keeps the files; the
    report panel is in view during and after the run; downloads are named
    after the case; a chat figure opens full size."""
    page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page.goto(ui_server.url)
    page.wait_for_selector("#ca-input textarea")
    r = _rect(page, "#ca-input")
    assert r["scrollY"] == 0 and 0 <= r["top"] and r["bottom"] <= r["vh"], f"chat input below the fold on load: {r}"
    assert page.locator("footer a:has-text('Use via API')").count() == 0
    page.screenshot(path=str(artifact_dir / "laptop-01-start.png"))

    page.get_by_text("Clinical context").click()
    page.locator("#ca-age input, #ca-age textarea").first.fill("fifty")
    page.locator("#ca-height input, #ca-height textarea").first.fill("1.72")
    page.locator("#ca-weight input, #ca-weight textarea").first.fill("80 kg")
    _upload(page, [LUDB / "1.hea", LUDB / "1.dat"])
    _send(page)
    page.wait_for_selector("#ca-chat >> text=Clinical context not accepted", timeout=30_000)
    chat = _chat_text(page)
    assert "age: 'fifty' is not a number" in chat and "1.72 looks like metres: did you mean 172 cm?" in chat and "weight:" not in chat
    assert "172 cm?" in page.locator("#ca-context-error").inner_text()
    page.wait_for_function("document.querySelectorAll('#ca-input .delete-button').length === 2", timeout=10_000)  # files kept
    r = _rect(page, "#ca-chat .message-row:last-child, #ca-chat .message:last-of-type")
    assert r["top"] < r["vh"] and r["bottom"] > 0, f"the context error is out of view: {r}"
    page.screenshot(path=str(artifact_dir / "laptop-02-context-error.png"))

    page.locator("#ca-age input, #ca-age textarea").first.fill("51")
    page.locator("#ca-height input, #ca-height textarea").first.fill("172")
    _send(page)
    page.wait_for_selector("#ca-chat >> text=Analysing", timeout=30_000)
    r = _rect(page, "#ca-panel .ca-report")
    assert 0 <= r["top"] < r["vh"] - 200, f"report panel out of view during the run: {r}"
    page.screenshot(path=str(artifact_dir / "laptop-03-progress.png"))
    page.wait_for_selector("#ca-panel section .ca-mtable", timeout=REPORT_TIMEOUT_MS)
    page.wait_for_selector("#ca-chat >> text=Report ready", timeout=30_000)
    r = _rect(page, "#ca-panel .ca-report")
    assert 0 <= r["top"] and r["top"] < r["vh"] - 300 and r["height"] >= 300, f"report panel not in view after the run: {r}"
    r = _rect(page, "#ca-sign")
    assert r["bottom"] <= r["vh"], f"sign button below the fold: {r}"
    page.screenshot(path=str(artifact_dir / "laptop-04-report.png"))

    # downloads carry the case id
    case_id = page.locator("#ca-case-id code").first.inner_text().strip()
    assert case_id.startswith("case-")
    with page.expect_download(timeout=30_000) as dl:
        page.locator("#ca-dl-report-html").click()
    assert dl.value.suggested_filename == f"{case_id}_report.html"

    # a chat figure opens full size, Escape closes it
    page.wait_for_function("() => [...document.querySelectorAll('#ca-chat img')].some(i => i.complete && i.naturalWidth > 200)", timeout=30_000)
    img = page.locator("#ca-chat img").last
    img.scroll_into_view_if_needed()
    img.click()
    page.wait_for_selector("#ca-lightbox img", timeout=5_000)
    assert page.evaluate("() => { const i = document.querySelector('#ca-lightbox img'); return i.getBoundingClientRect().width >= i.naturalWidth - 1; }")
    page.screenshot(path=str(artifact_dir / "laptop-05-figure.png"))
    page.keyboard.press("Escape")
    assert page.locator("#ca-lightbox").count() == 0
    page.close()
