"""multimodal: cases that need more than one expert, built from the
generators, with guideline citations measured (retrieval on).

- lbbb-hfref-echo: LBBB-pattern ECG (QRS ≥150 ms) + apical clip with LVEF
  ~30%, symptomatic on therapy per the notes → LBBB and reduced EF found,
  and a guideline-cited CRT consideration (ESC HF 2021 / ESC pacing 2021 /
  AHA HF 2022 CRT-with-LBBB statements);
- lbbb-hfref-cmr: the same question with the EF from a CMR cine;
- normal-ecg-normal-cmr: sinus ECG with normal intervals + a normal-size
  heart with EF ~62% → no abnormal finding, nothing to cite;
- af-dilated-lv: AF ECG + a dilated LV (EDV ~240 mL, EF ~35%) on echo →
  AF, dilatation and reduced EF, with an AF guideline cited.

Cases for the composer's cross-modality synthesis rules (agent/synthesis.py),
on the bundled real PTB record (examples/ecg/ptb-s0010_re: acute
infero-lateral MI, ventriculography 'akinesia inferior wall') paired with a
*simulated* study — a composite case, the imaging is not this patient's:
- ptb-mi-echo-low-ef: PTB ECG + echo EF ~30% → infarct pattern and reduced
  EF, with the Universal Definition's infarction criteria cited;
- ptb-mi-cmr-normal-ef: PTB ECG + a normal CMR (EF ~62%) → the Q-wave +
  low-EF synthesis must not fire and nothing about CRT may be said;
- lbbb-ef40-echo: LBBB pattern (QRS ≥150 ms) + echo EF ~40% → above the
  35% CRT threshold: no CRT statement, however wide the QRS;
- ef-disagreement-echo-cmr: echo EF ~30% + CMR EF ~62% in one case → both
  values reported with their sources, never averaged (no guideline needed).

A case whose expert is missing from this build is listed as not built,
with the reason.
"""

from __future__ import annotations

from pathlib import Path

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult
from evals.suites import ecg_gen

DESCRIPTION = ("ECG + echo / CMR cases from the generators and the bundled real PTB ECG (LBBB + HFrEF → CRT, normal + normal, AF + dilated LV, "
               "infarct pattern ± low EF, LBBB with EF above the CRT threshold, echo/CMR EF disagreement) with guideline citations")
SEED_BASE = 8_000_000
CRT_LBBB = {"any_of": ["esc-hf-2021-crt-lbbb-*", "esc-pacing-2021-crt-lbbb-*", "aha-hf-2022-crt-lbbb-*"]}
# ecg-p4-qt-adjust-for-qrs-duration: a QTc measured over the LBBB is read with the QRS adjustment (added with the synthesis rules)
HF_CONTEXT = ["ecg-p3-complete-lbbb-adult", "ecg-p3-lbbb-*", "ecg-p3-qrs-duration-upper-limit-adult", "esc-hf-2021-*", "aha-hf-2022-*",
              "esc-pacing-2021-crt-*", "ase-cq-2015-lvef-*", "ecg-p4-qt-adjust-for-qrs-duration"]  # fmt: skip
AF_GUIDELINES = {"any_of": ["esc-af-2024-*", "acc-af-2023-*"]}
NOTES_HF = "Breathlessness on exertion (NYHA class II) despite optimal medical therapy for 6 months."


def _needs(modalities: list[str]) -> str | None:
    mods = {"echo": ("experts.echo.simulate", "experts.echo.tool"), "cmr": ("experts.cmr.simulate", "experts.cmr.tool")}
    import importlib

    for m in modalities:
        for name in mods.get(m, ()):
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                return f"needs the {m} expert, which is not in this build ({exc.name})"
    return None


def _ecg(folder: Path, ecg: ecg_gen.SyntheticECG, name: str) -> dict:
    ecg_gen.write_wfdb(folder / "ecg", name, ecg)
    return ecg.truth


def _interval(name: str, value: float | None) -> list[dict]:
    if value is None:
        return []
    return [{"name": name, "value": round(value, 1), "tolerance": ecg_gen.INTERVAL_TOLERANCE_MS[name], "unit": "ms", "modality": "ecg"}]


def _lbbb_with_echo(ctx: BuildContext, case_id: str, seed: int, hr: float, ef_pct: float, edv_ml: float) -> tuple[Path, dict, dict]:
    """A case folder with a synthetic LBBB ECG and a simulated apical echo
    clip of the given EF; returns the folder, ECG truth and echo truth."""
    from evals.suites import echo_sim

    folder = ctx.work_dir / case_id
    t = _ecg(folder, ecg_gen.lbbb_pattern(seed, hr=hr), "ecg_lbbb")
    sim = echo_sim.simulate(seed, ef_pct=ef_pct, edv_ml=edv_ml, heart_rate_bpm=hr, noise=0.04)
    (folder / "echo").mkdir(parents=True, exist_ok=True)
    echo_sim.write_dicom(sim, folder / "echo" / "a4c.dcm")
    return folder, t, echo_sim.truth_values(sim)


def lbbb_hfref_echo(ctx: BuildContext, case_id: str, seed: int) -> Path:
    folder, t, ev = _lbbb_with_echo(ctx, case_id, seed, hr=68.0, ef_pct=30.0, edv_ml=190.0)
    write_case(folder, {
        "id": case_id, "description": f"LBBB pattern (QRS {t['qrs_ms']:.0f} ms) + echo LVEF {ev['lvef']:.0f}%: HFrEF with a CRT consideration",
        "tags": ["multimodal", "ecg", "echo"], "source": f"ecg_gen.lbbb_pattern seed {seed}; experts.echo.simulate seed {seed} (EF 30%)",
        "context": {"age": 67, "sex": "male", "height_cm": 178, "weight_kg": 84, "indication": "Heart failure work-up", "notes": NOTES_HF},
        "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "echo"],
            "statements": [{"id": "lbbb", "status": "present", "modality": "ecg"}, {"id": "atrial_fibrillation", "status": "absent"},
                           {"id": "lvef_reduced", "status": "present", "modality": "echo"}],
            "measurements": _interval("qrs_duration", t["qrs_ms"])
            + [{"name": "lvef", "value": round(ev["lvef"], 1), "tolerance": 7.0, "unit": "%", "modality": "echo"}],
            "guidelines": [CRT_LBBB], "guidelines_allowed": HF_CONTEXT,
        },
        "must_not": {"modalities": ["cmr", "kspace"]},
    })  # fmt: skip
    return folder


def lbbb_hfref_cmr(ctx: BuildContext, case_id: str, seed: int) -> Path:
    from evals.suites import cmr_sim
    from experts.cmr.sim_files import write_dicom_series

    folder = ctx.work_dir / case_id
    t = _ecg(folder, ecg_gen.lbbb_pattern(seed, hr=72.0), "ecg_lbbb")
    sim = cmr_sim.simulate(seed, lv_ef=0.28, dilated=True)
    write_dicom_series(sim, folder / "cmr", patient_sex="F")
    truth, seg = cmr_sim.write_truth(sim, folder)
    write_case(folder, {
        "id": case_id, "description": f"LBBB pattern (QRS {t['qrs_ms']:.0f} ms) + CMR LVEF {truth['lvef']:.0f}%: HFrEF with a CRT consideration",
        "tags": ["multimodal", "ecg", "cmr"], "source": f"ecg_gen.lbbb_pattern seed {seed}; evals/suites/cmr_sim.simulate seed {seed} (EF 28%, dilated)",
        "context": {"age": 71, "sex": "female", "height_cm": 163, "weight_kg": 70, "indication": "Heart failure work-up", "notes": NOTES_HF},
        "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "cmr"],
            "statements": [{"id": "lbbb", "status": "present", "modality": "ecg"}, {"id": "atrial_fibrillation", "status": "absent"},
                           {"id": "lvef_reduced_range", "status": "present", "modality": "cmr"}],
            "measurements": _interval("qrs_duration", t["qrs_ms"])
            + [{"name": "lvef", "value": round(truth["lvef"], 1), "tolerance": 5.0, "unit": "%", "modality": "cmr"}],
            "guidelines": [CRT_LBBB], "guidelines_allowed": HF_CONTEXT + ["cmr-ref-2020-*", "scmr-2020-*", "esc-cmp-2023-dcm-*"],
        },
        "must_not": {"modalities": ["echo", "kspace"]},
        "truth": {"segmentation": seg},
    })  # fmt: skip
    return folder


def normal_ecg_normal_cmr(ctx: BuildContext, case_id: str, seed: int) -> Path:
    from evals.suites import cmr_sim
    from experts.cmr.sim_files import write_dicom_series

    folder = ctx.work_dir / case_id
    ecg = ecg_gen.sinus(seed, hr=68.0, pr_ms=160.0, qrs_ms=88.0, qt_ms=390.0)
    t = _ecg(folder, ecg, "ecg_normal")
    sim = cmr_sim.simulate(seed, lv_ef=0.62, dilated=False)
    write_dicom_series(sim, folder / "cmr", patient_sex="M")
    truth, seg = cmr_sim.write_truth(sim, folder)
    pat = {"age": 45, "sex": "male", "height_cm": 180, "weight_kg": 78}
    cmr_exp = cmr_sim.expectations(truth, pat)  # all absent for this heart: EF categories, EF below reference, LV mass index
    write_case(folder, {
        "id": case_id, "description": f"normal sinus ECG + CMR with LVEF {truth['lvef']:.0f}%: no abnormal finding, nothing to cite",
        "tags": ["multimodal", "ecg", "cmr", "normal"], "source": f"experts.ecg.synthetic seed {seed}; cmr_sim.simulate seed {seed} (EF 62%, normal size)",
        "context": {**pat, "indication": "Palpitations"},
        "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "cmr"],
            "statements": [{"id": "sinus_rhythm", "status": "present"}, {"id": "atrial_fibrillation", "status": "absent"},
                           {"id": "lbbb", "status": "absent"}, {"id": "first_degree_av_block", "status": "absent"}] + cmr_exp["statements"],
            "measurements": _interval("pr_interval", t["pr_ms"]) + _interval("qrs_duration", t["qrs_ms"]) + cmr_exp["measurements"],
            "guidelines": [],
        },
        "must_not": {"modalities": ["echo", "kspace"], "text": [r"\brecommend", r"\bCRT\b", r"\bICD\b"]},
        "truth": {"segmentation": seg},
    })  # fmt: skip
    return folder


def af_dilated_lv(ctx: BuildContext, case_id: str, seed: int) -> Path:
    from evals.suites import echo_sim

    folder = ctx.work_dir / case_id
    _ecg(folder, ecg_gen.atrial_fibrillation(seed, mean_hr=95.0), "ecg_af")
    sim = echo_sim.simulate(seed, ef_pct=35.0, edv_ml=240.0, heart_rate_bpm=95.0, noise=0.04)
    (folder / "echo").mkdir(parents=True, exist_ok=True)
    echo_sim.write_dicom(sim, folder / "echo" / "a4c.dcm")
    ev = echo_sim.truth_values(sim)
    write_case(folder, {
        "id": case_id, "description": f"AF + echo EDV {ev['lv_edv']:.0f} mL, LVEF {ev['lvef']:.0f}%: AF with a dilated, poorly contracting LV",
        "tags": ["multimodal", "ecg", "echo"], "source": f"ecg_gen.atrial_fibrillation seed {seed}; experts.echo.simulate seed {seed} (EDV 240 mL, EF 35%)",
        "context": {"age": 72, "sex": "male", "height_cm": 176, "weight_kg": 80, "indication": "Irregular pulse, breathlessness"},
        "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "echo"],
            "statements": [{"id": "atrial_fibrillation", "status": "present", "modality": "ecg"},
                           {"id": "lv_dilated", "status": "present", "modality": "echo"}, {"id": "lvef_reduced", "status": "present", "modality": "echo"}],
            "measurements": [{"name": "lv_edv", "value": round(ev["lv_edv"], 1), "tolerance": round(echo_sim.volume_tolerance(ev["lv_edv"]), 1),
                              "unit": "mL", "modality": "echo"}],
            "guidelines": [AF_GUIDELINES],
            "guidelines_allowed": ["esc-hf-2021-*", "aha-hf-2022-*", "ase-cq-2015-*", "esc-cmp-2023-dcm-*", "esc-af-2024-*", "acc-af-2023-*"],
        },
        "must_not": {"modalities": ["cmr", "kspace"]},
    })  # fmt: skip
    return folder


PTB_ECG = [f"repo:examples/ecg/ptb-s0010_re/s0010_re.{ext}" for ext in ("hea", "dat", "xyz")]
PTB_CONTEXT = {"age": 81, "sex": "female", "indication": "Chest pain; LV function?"}  # age and sex from the PTB header
PTB_SOURCE = "PTB Diagnostic ECG Database s0010_re (examples/ecg, ODC-By 1.0): acute infero-lateral MI, inferior akinesia on ventriculography"
INFARCT_PATTERN = {"any_of": ["st_elevation_*", "pathological_q_waves_*"], "status": "present", "name": "infarct pattern (ST elevation or Q waves)",
                   "modality": "ecg"}  # fmt: skip
PRIOR_MI = {"any_of": ["udmi4-prior-mi-criteria", "udmi4-pathological-q-waves"]}
# What a PTB report may correctly cite besides the required passages: the ECG's own
# findings (infarct pattern, conduction, QT over a wide QRS) and LVEF categories.
PTB_ALLOWED = ["udmi4-*", "ecg-p3-*rbbb*", "ecg-p3-nonspecific-ivcd", "ecg-p4-*", "ecg-p6-*", "esc-acs-2023-*", "ase-cq-2015-lvef-*",
               "cmr-ref-2020-*"]  # fmt: skip
CRT_NON_LBBB = ["esc-pacing-2021-crt-non-lbbb-*", "esc-hf-2021-crt-non-lbbb-*", "aha-hf-2022-crt-lbbb-120-149-or-nonlbbb-150"]
EF_CONTEXT = ["ase-cq-2015-*", "cmr-ref-2020-*", "esc-hf-2021-hfref-definition", "esc-hf-2021-hfmref-definition", "aha-hf-2022-lvef-classification",
              "esc-cmp-2023-dcm-*"]


def ptb_mi_echo_low_ef(ctx: BuildContext, case_id: str, seed: int) -> Path:
    from evals.suites import echo_sim

    folder = ctx.work_dir / case_id
    sim = echo_sim.simulate(seed, ef_pct=30.0, edv_ml=180.0, heart_rate_bpm=80.0, noise=0.04)
    (folder / "echo").mkdir(parents=True, exist_ok=True)
    echo_sim.write_dicom(sim, folder / "echo" / "a4c.dcm")
    ev = echo_sim.truth_values(sim)
    write_case(folder, {
        "id": case_id, "description": f"real PTB ECG (acute infero-lateral MI) + simulated echo LVEF {ev['lvef']:.0f}%: infarct pattern with a low EF",
        "tags": ["multimodal", "ecg", "echo", "real-ecg", "synthesis"], "source": f"{PTB_SOURCE}; experts.echo.simulate seed {seed} (EF 30%)",
        "inputs": PTB_ECG + ["echo/a4c.dcm"], "context": PTB_CONTEXT, "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "echo"],
            "statements": [INFARCT_PATTERN, {"id": "atrial_fibrillation", "status": "absent"},
                           {"id": "lvef_reduced", "status": "present", "modality": "echo"}],
            "measurements": [{"name": "lvef", "value": round(ev["lvef"], 1), "tolerance": 7.0, "unit": "%", "modality": "echo"}],
            "guidelines": [PRIOR_MI], "guidelines_allowed": PTB_ALLOWED + CRT_NON_LBBB + EF_CONTEXT,
        },
        "must_not": {"modalities": ["cmr", "kspace"]},
    })  # fmt: skip
    return folder


def ptb_mi_cmr_normal_ef(ctx: BuildContext, case_id: str, seed: int) -> Path:
    from evals.suites import cmr_sim
    from experts.cmr.sim_files import write_dicom_series

    folder = ctx.work_dir / case_id
    sim = cmr_sim.simulate(seed, lv_ef=0.62, dilated=False)
    write_dicom_series(sim, folder / "cmr", patient_sex="F")
    truth, seg = cmr_sim.write_truth(sim, folder)
    write_case(folder, {
        "id": case_id, "description": f"real PTB ECG (acute infero-lateral MI) + simulated normal CMR (LVEF {truth['lvef']:.0f}%): "
                                      "no Q-wave + low-EF synthesis, no CRT",
        "tags": ["multimodal", "ecg", "cmr", "real-ecg", "synthesis"], "source": f"{PTB_SOURCE}; cmr_sim.simulate seed {seed} (EF 62%, normal size)",
        "inputs": PTB_ECG + ["cmr"], "context": PTB_CONTEXT, "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "cmr"],
            "statements": [INFARCT_PATTERN, {"id": "lvef_reduced_range", "status": "absent", "modality": "cmr"}],
            "measurements": [{"name": "lvef", "value": round(truth["lvef"], 1), "tolerance": 5.0, "unit": "%", "modality": "cmr"}],
            "guidelines": [], "guidelines_allowed": PTB_ALLOWED + EF_CONTEXT,
        },
        "must_not": {"modalities": ["echo", "kspace"], "text": [r"\bCRT\b", r"consistent with a myocardial infarction"]},
        "truth": {"segmentation": seg},
    })  # fmt: skip
    return folder


def lbbb_ef40_echo(ctx: BuildContext, case_id: str, seed: int) -> Path:
    folder, t, ev = _lbbb_with_echo(ctx, case_id, seed, hr=70.0, ef_pct=40.0, edv_ml=170.0)
    write_case(folder, {
        "id": case_id, "description": f"LBBB pattern (QRS {t['qrs_ms']:.0f} ms) + echo LVEF {ev['lvef']:.0f}%: above the 35% CRT threshold, no CRT statement",
        "tags": ["multimodal", "ecg", "echo", "synthesis"], "source": f"ecg_gen.lbbb_pattern seed {seed}; experts.echo.simulate seed {seed} (EF 40%)",
        "context": {"age": 64, "sex": "male", "height_cm": 175, "weight_kg": 80, "indication": "Breathlessness"},
        "run": {"retrieval": True},
        "expected": {
            "modalities": ["ecg", "echo"],
            "statements": [{"id": "lbbb", "status": "present", "modality": "ecg"}],
            "measurements": _interval("qrs_duration", t["qrs_ms"])
            + [{"name": "lvef", "value": round(ev["lvef"], 1), "tolerance": 7.0, "unit": "%", "modality": "echo"}],
            "guidelines": [], "guidelines_allowed": ["ecg-p3-complete-lbbb-adult", "ecg-p3-lbbb-*", "ecg-p4-*"] + EF_CONTEXT,
        },
        "must_not": {"modalities": ["cmr", "kspace"], "text": [r"\bCRT\b"]},
    })  # fmt: skip
    return folder


def ef_disagreement_echo_cmr(ctx: BuildContext, case_id: str, seed: int) -> Path:
    from evals.suites import cmr_sim, echo_sim
    from experts.cmr.sim_files import write_dicom_series

    folder = ctx.work_dir / case_id
    es = echo_sim.simulate(seed, ef_pct=30.0, edv_ml=180.0, heart_rate_bpm=70.0, noise=0.04)
    (folder / "echo").mkdir(parents=True, exist_ok=True)
    echo_sim.write_dicom(es, folder / "echo" / "a4c.dcm")
    ev = echo_sim.truth_values(es)
    sim = cmr_sim.simulate(seed, lv_ef=0.62, dilated=False)
    write_dicom_series(sim, folder / "cmr", patient_sex="M")
    truth, seg = cmr_sim.write_truth(sim, folder)
    write_case(folder, {
        "id": case_id, "description": f"echo LVEF {ev['lvef']:.0f}% + CMR LVEF {truth['lvef']:.0f}% in one case: both reported with sources, never averaged",
        "tags": ["multimodal", "echo", "cmr", "synthesis"], "source": f"experts.echo.simulate seed {seed} (EF 30%); cmr_sim.simulate seed {seed} (EF 62%)",
        "context": {"age": 58, "sex": "male", "height_cm": 178, "weight_kg": 82, "indication": "Discordant LV function"},
        "run": {"retrieval": True},
        "expected": {
            "modalities": ["echo", "cmr"],
            "statements": [{"id": "lvef_reduced", "status": "present", "modality": "echo"},
                           {"id": "lvef_reduced_range", "status": "absent", "modality": "cmr"}],
            "measurements": [{"name": "lvef", "value": round(ev["lvef"], 1), "tolerance": 7.0, "unit": "%", "modality": "echo"},
                             {"name": "lvef", "value": round(truth["lvef"], 1), "tolerance": 5.0, "unit": "%", "modality": "cmr"}],
            "guidelines": [], "guidelines_allowed": EF_CONTEXT,
        },
        "must_not": {"modalities": ["ecg", "kspace"], "text": [r"\b(mean|average) (LV)?EF\b", r"\bCRT\b"]},
        "truth": {"segmentation": seg},
    })  # fmt: skip
    return folder


CASES = [
    ("lbbb-hfref-echo", lbbb_hfref_echo, ["echo"]),
    ("normal-ecg-normal-cmr", normal_ecg_normal_cmr, ["cmr"]),
    ("af-dilated-lv", af_dilated_lv, ["echo"]),
    ("lbbb-hfref-cmr", lbbb_hfref_cmr, ["cmr"]),
    ("ptb-mi-echo-low-ef", ptb_mi_echo_low_ef, ["echo"]),
    ("ptb-mi-cmr-normal-ef", ptb_mi_cmr_normal_ef, ["cmr"]),
    ("lbbb-ef40-echo", lbbb_ef40_echo, ["echo"]),
    ("ef-disagreement-echo-cmr", ef_disagreement_echo_cmr, ["echo", "cmr"]),
]


def build(ctx: BuildContext) -> BuildResult:
    res = BuildResult()
    n = ctx.size(len(CASES), len(CASES))
    for i, (case_id, fn, needs) in enumerate(CASES[:n]):
        if not ctx.wants(case_id):
            continue
        why = _needs(needs)
        if why:
            res.skipped.append((case_id, f"not built: {why}"))
            continue
        res.cases.append(fn(ctx, case_id, SEED_BASE + i))
    return res
