"""ecg-real: the PhysioNet records in ../shared/data/ecg, scored against
each database's own labels and annotations.

Sources and how their labels become expectations (statement keys are the
ECG tool's; "sinus (any rate)" means any of sinus rhythm / bradycardia /
tachycardia):
- LUDB (ludb.csv, cardiologists): rhythm, electrical axis (its "left
  axis deviation" is below ~0°, not the AHA's −30°: only "right axis
  deviation absent" is expected of it), conduction
  blocks, extrasystoles, LV hypertrophy, STEMI / scar; PR, QRS and QT from
  the per-lead wave annotations (evals/ecg_accuracy_ludb.ludb_truth).
  Paced records keep only the AF expectation. ST elevation is expected
  for "STEMI:" lines only (not "supp.nstemi"). LUDB's "incomplete right
  bundle branch block" includes rSr′ patterns with QRS < 110 ms, which the
  AHA/ACCF/HRS 2009 definition (110–119 ms) does not call incomplete RBBB;
  it is scored as it is, so that sensitivity has a ceiling. LUDB calls sinus bradycardia
  below 60/min, the tool's cited limit is 50/min (AHA/ACCF/HRS 2009) — the
  composite sinus key is the fair test, the rate keys show the difference.
- MIT-BIH Arrhythmia (.atr): premature ventricular / atrial(-nodal) beats,
  runs of ≥3 ventricular beats, sinus rhythm when the rhythm annotation is
  normal throughout, heart rate from the reference beats. Two leads only,
  so bundle-branch-block labels are not expected of the tool.
- CinC 2017 (REFERENCE.csv): A → AF present; N, O, ~ → AF absent; N →
  sinus present. Default size uses records from the second half of the
  sorted REFERENCE.csv (session 2 tuned the AF-episode and single-lead
  sinus rules on the first half; session 1 had tuned AF on odd positions).
- CinC 2020 (#Dx SNOMED CT in each header): present for every code the tool
  has a rule for, absent for the tool's core codes the header does not list
  (the Challenge's equivalent code pairs are merged).
- PTB s0010_re (acute infero-lateral MI): ST elevation or pathological Q
  waves in some territory; MAC test01_00s (healthy): sinus, no AF/BBB;
  CinC 2015 a103l / v102s (false asystole / VT alarms): no pause / no NSVT;
  MIMIC 03700181 (no label): must produce a grounded report.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult

DESCRIPTION = "PhysioNet records in ../shared/data/ecg (LUDB, MIT-BIH, CinC 2017/2020, PTB, MAC, CinC 2015) with their own labels"
SINUS = ["sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"]
SINUS_ANY = {"any_of": SINUS, "name": "sinus (any rate)"}
INTERVAL_TOL = {"pr_interval": 10.0, "qrs_duration": 10.0, "qt_interval": 25.0}
NOT_ECG = ["echo", "cmr", "kspace"]


def _case(ctx: BuildContext, case_id: str, inputs: list[str], source: str, statements: list[dict], measurements: list[dict] | None = None,
          context: dict | None = None, description: str = "", must_not: list[str] | None = None) -> Path:  # fmt: skip
    folder = ctx.work_dir / case_id
    spec = {"id": case_id, "description": description, "tags": ["ecg", "real"], "source": source, "inputs": inputs,
            "context": context or {}, "expected": {"modalities": ["ecg"], "statements": statements, "measurements": measurements or []},
            "must_not": {"modalities": NOT_ECG, "statements": must_not or []}}  # fmt: skip
    write_case(folder, spec)
    return folder


def _spread(items: list, n: int) -> list:
    """n items evenly spread over the list (all when n >= len)."""
    if n >= len(items):
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


# --- LUDB ----------------------------------------------------------------------

LUDB_CONDUCTION = {
    "complete left bundle branch block": "lbbb",
    "complete right bundle branch block": "rbbb",
    "incomplete right bundle branch block": "incomplete_rbbb",
    "incomplete left bundle branch block": "incomplete_lbbb",
    "left anterior hemiblock": "lafb",
    "i degree av block": "first_degree_av_block",
    "non-specific intravintricular conduction delay": "nonspecific_ivcd",
}
LUDB_RATE = {"sinus rhythm": "sinus_rhythm", "sinus bradycardia": "sinus_bradycardia", "sinus tachycardia": "sinus_tachycardia"}


def _lines(cell: str) -> list[str]:
    return [x.strip().lower() for x in (cell or "").split("\n") if x.strip()]


def ludb_expectations(row: dict) -> list[dict]:
    rhythm = _lines(row["Rhythms"])
    main = rhythm[0] if rhythm else ""
    paced = bool(_lines(row["Cardiac pacing"]))
    st: list[dict] = []
    if main.startswith("atrial fibrillation"):
        st += [{"id": "atrial_fibrillation", "status": "present"}, {**SINUS_ANY, "status": "absent"}, {"id": "atrial_flutter", "status": "absent"}]
    elif main.startswith("atrial flutter"):
        st += [{"id": "atrial_flutter", "status": "present"}, {"id": "atrial_fibrillation", "status": "absent"}, {**SINUS_ANY, "status": "absent"}]
    elif main.startswith("sinus") or main.startswith("irregular sinus"):
        st += [{"id": "atrial_fibrillation", "status": "absent"}, {"id": "atrial_flutter", "status": "absent"}]
        if not paced:
            st.append({**SINUS_ANY, "status": "present"})
            if main in LUDB_RATE:
                key = LUDB_RATE[main]
                st += [{"id": k, "status": "present" if k == key else "absent"} for k in SINUS]
    if paced:
        return st
    axis = (row["Electric axis of the heart"] or "").lower()
    if "left axis deviation" in axis:
        # LUDB's axis categories follow the convention horizontal 0…+30°, normal +30…+70°, vertical +70…+90°, so its
        # "left axis deviation" is any axis below ~0°; the tool's left_axis_deviation is the AHA/ACCF/HRS 2009 one
        # (−30° to −90°). Measured on LUDB, the median axis of this category is about −4°: most of these records are
        # normal by the AHA limits, so the label says nothing about the tool's statement (scored until 2026-11: 0.01).
        st += [{"id": "right_axis_deviation", "status": "absent"}]
    elif "right axis deviation" in axis:
        st += [{"id": "right_axis_deviation", "status": "present"}, {"id": "left_axis_deviation", "status": "absent"}]
    elif axis.strip():
        st += [{"id": "left_axis_deviation", "status": "absent"}, {"id": "right_axis_deviation", "status": "absent"}]
    conduction = _lines(row["Conduction abnormalities"])
    labelled = {LUDB_CONDUCTION[c] for c in conduction if c in LUDB_CONDUCTION}
    higher_block = any("ii degree" in c or "sinoatrial" in c for c in conduction)  # ii/iii degree or SA block
    for key in ("lbbb", "rbbb", "incomplete_rbbb", "incomplete_lbbb", "lafb", "first_degree_av_block", "nonspecific_ivcd"):
        if key in labelled:
            st.append({"id": key, "status": "present"})
        elif not (key == "first_degree_av_block" and higher_block):
            st.append({"id": key, "status": "absent"})
    extra = " ".join(_lines(row["Extrasystolies"]))
    if not main.startswith("atrial fibrillation"):
        st.append({"id": "pvc", "status": "present" if "ventricular extrasystole" in extra else "absent"})
        st.append({"id": "pac", "status": "present" if "atrial extrasystole" in extra else "absent"})
    hyper = _lines(row["Hypertrophies"])
    if "left ventricular hypertrophy" in hyper:
        st.append({"id": "lvh_voltage", "status": "present"})
    elif not any("left ventricular" in h for h in hyper):
        st.append({"id": "lvh_voltage", "status": "absent"})
    isch = " ".join(_lines(row["Ischemia"]))
    early_repol = "early repolarization" in " ".join(_lines(row["Other states"]))
    # "stemi:" must not match LUDB's "undefined ischemia/scar/supp.nstemi:" (suspected NSTEMI), which it did until 2026-11
    stemi = any(line.startswith("stemi:") for line in _lines(row["Ischemia"]))
    if stemi:
        st.append({"id": "st_elevation_*", "status": "present", "name": "ST elevation (any territory)"})
    elif not isch and not early_repol:
        st.append({"id": "st_elevation_*", "status": "absent", "name": "ST elevation (any territory)"})
    if "scar formation" in isch:
        st.append({"id": "pathological_q_waves_*", "status": "present", "name": "pathological Q waves (any territory)"})
    elif not isch:
        st.append({"id": "pathological_q_waves_*", "status": "absent", "name": "pathological Q waves (any territory)"})
    return st


def build_ludb(ctx: BuildContext, root: Path, res: BuildResult) -> None:
    from evals.ecg_accuracy_ludb import ludb_truth

    rows = list(csv.DictReader(open(root / "ludb.csv", newline="", encoding="utf-8")))
    rows.sort(key=lambda r: int(r["ID"]))
    n = ctx.size(20, len(rows))
    chosen = _spread(rows, n)
    if n < len(rows):
        res.notes.append(f"LUDB: {n} of {len(rows)} records (every {len(rows) // n}th)")
    for row in chosen:
        rid = row["ID"].strip()
        case_id = f"ludb-{rid}"
        if not ctx.wants(case_id):
            continue
        truth = ludb_truth(root / "data" / rid)
        ms = [{"name": name, "value": round(truth[k], 1), "tolerance": INTERVAL_TOL[name], "unit": "ms"}
              for k, name in (("pr", "pr_interval"), ("qrs", "qrs_duration"), ("qt", "qt_interval")) if k in truth]  # fmt: skip
        sex = {"f": "female", "m": "male"}.get(row["Sex"].strip().lower())
        age = row["Age"].strip()
        ctx_fields = {"sex": sex} if sex else {}
        if age.isdigit():
            ctx_fields["age"] = float(age)
        label = "; ".join(x for x in [row["Rhythms"], row["Electric axis of the heart"], row["Conduction abnormalities"]] if x.strip())
        res.cases.append(_case(ctx, case_id, [f"shared:ecg/ludb/data/{rid}.hea", f"shared:ecg/ludb/data/{rid}.dat"],
                               f"LUDB v1.0.1 record {rid}: ludb.csv labels; intervals from the wave annotations", ludb_expectations(row),
                               ms, ctx_fields, description=" ".join(label.split())[:200]))  # fmt: skip


# --- MIT-BIH ---------------------------------------------------------------------

VENTRICULAR, SUPRAVENTRICULAR = set("VE"), set("AaSJ")
BEATS = set("NLRBAaJSVrFejnE/fQ?")


def mitdb_expectations(folder: Path, record: str) -> tuple[list[dict], list[dict], str]:
    import numpy as np
    import wfdb

    ann = wfdb.rdann(str(folder / record), "atr")
    hdr = wfdb.rdheader(str(folder / record))
    sym = list(ann.symbol)
    rhythms = {a.strip("\x00").strip() for a in ann.aux_note if a and a.startswith("(")}
    beats = [(s, c) for s, c in zip(ann.sample, sym) if c in BEATS]
    paced = any(c in "/f" for _, c in beats)
    st = [{"id": "atrial_fibrillation", "status": "present" if "(AFIB" in rhythms else "absent"}]
    if not paced:
        n_v = sum(c in VENTRICULAR for _, c in beats)
        n_s = sum(c in SUPRAVENTRICULAR for _, c in beats)
        st.append({"id": "pvc", "status": "present" if n_v else "absent"})
        if "(AFIB" not in rhythms:
            st.append({"id": "pac", "status": "present" if n_s else "absent"})
        run, longest = 0, 0
        for _, c in beats:
            run = run + 1 if c in VENTRICULAR else 0
            longest = max(longest, run)
        st.append({"id": "nsvt", "status": "present" if longest >= 3 or "(VT" in rhythms else "absent"})
        if rhythms == {"(N"}:
            st.append({**SINUS_ANY, "status": "present"})
    rr = np.diff([s for s, _ in beats]) / hdr.fs
    hr = 60.0 / float(np.mean(rr))
    ms = [{"name": "heart_rate", "value": round(hr, 1), "tolerance": 3.0, "unit": "/min"}]
    counts = {c: sym.count(c) for c in sorted(set(sym) & BEATS)}
    return st, ms, f"beats {counts}; rhythms {sorted(rhythms)}"


def build_mitdb(ctx: BuildContext, ecg_root: Path, res: BuildResult) -> None:
    records = [(ecg_root, "100")] + [(ecg_root / "mitdb", p.stem) for p in sorted((ecg_root / "mitdb").glob("*.hea"))]
    records = [(f, r) for f, r in records if (f / f"{r}.atr").is_file()]
    n = ctx.size(6, len(records))
    if n < len(records):
        res.notes.append(f"MIT-BIH: {n} of {len(records)} records")
    for folder, rec in _spread(records, n):
        case_id = f"mitdb-{rec}"
        if not ctx.wants(case_id):
            continue
        st, ms, desc = mitdb_expectations(folder, rec)
        rel = folder.relative_to(ecg_root.parent)
        res.cases.append(_case(ctx, case_id, [f"shared:{rel}/{rec}.hea", f"shared:{rel}/{rec}.dat"],
                               f"MIT-BIH Arrhythmia Database record {rec}: .atr reference beat and rhythm annotations", st, ms,
                               description=desc))  # fmt: skip


# --- CinC 2017 ---------------------------------------------------------------------


def build_cinc2017(ctx: BuildContext, root: Path, res: BuildResult) -> None:
    ref = sorted(csv.reader(open(root / "REFERENCE.csv", newline="")))
    per_class_default = {"A": 10, "N": 10, "O": 6, "~": 4}
    chosen: list[tuple[str, str]] = []
    if ctx.full and ctx.limit is None:
        chosen = ref
    else:
        held_out = ref[len(ref) // 2 :]  # the first half (sorted) tunes the AF / single-lead sinus thresholds
        for cls, k in per_class_default.items():
            k = min(k, ctx.limit) if ctx.limit is not None else k
            chosen += [r for r in held_out if r[1] == cls][:k]
        res.notes.append(f"CinC 2017: {len(chosen)} of {len(ref)} records (second half of REFERENCE.csv: not used for tuning)")
    for rec, label in sorted(chosen):
        case_id = f"cinc2017-{rec}"
        if not ctx.wants(case_id):
            continue
        st = [{"id": "atrial_fibrillation", "status": "present" if label == "A" else "absent"}]
        if label == "N":
            st.append({**SINUS_ANY, "status": "present"})
        name = {"A": "atrial fibrillation", "N": "normal", "O": "other rhythm", "~": "noisy"}[label]
        res.cases.append(_case(ctx, case_id, [f"shared:ecg/cinc2017/{rec}.hea", f"shared:ecg/cinc2017/{rec}.mat"],
                               f"PhysioNet/CinC Challenge 2017 record {rec}: REFERENCE.csv label {label} ({name})", st,
                               description=f"single-lead, label {name}"))  # fmt: skip


# --- CinC 2020 ---------------------------------------------------------------------

SAME_CODE = {"713427006": "59118001", "733534002": "164909002", "427172004": "17338001", "63593006": "284470004"}
CORE_ABSENT = ["atrial_fibrillation", "atrial_flutter", "lbbb", "rbbb", "first_degree_av_block", "sinus_bradycardia", "sinus_tachycardia", "pvc", "pac",
               "left_axis_deviation", "right_axis_deviation", "lafb", "incomplete_rbbb", "long_qtc", "low_qrs_voltage"]  # fmt: skip


def decidable_keys() -> set[str]:
    """Statement keys the ECG tool has a rule for (a code in its table
    without a rule, e.g. second-degree AV block, is never emitted)."""
    from experts.ecg.criteria_table import build_rules

    return {r.key for r in build_rules()}


def cinc2020_expectations(header_text: str) -> tuple[list[dict], dict, list[str]]:
    from experts.ecg.codes import SNOMED_ECG

    decidable = decidable_keys()
    ours = {code: key for key, (code, _d) in SNOMED_ECG.items() if key in decidable}
    m = re.search(r"#\s*Dx:\s*([\d,\s]+)", header_text)
    codes = {c.strip() for c in (m.group(1).split(",") if m else []) if c.strip()}
    codes |= {SAME_CODE[c] for c in list(codes) if c in SAME_CODE}
    present = sorted({ours[c] for c in codes if c in ours})
    if "164917005" in codes:  # "Q wave abnormal": the tool reports it per territory
        present = [p for p in present if p != "pathological_q_waves"]
    st = [{"id": k, "status": "present"} for k in present]
    if "164917005" in codes:
        st.append({"id": "pathological_q_waves_*", "status": "present", "name": "pathological Q waves (any territory)"})
    paced = "10370003" in codes
    if not paced:
        st += [{"id": k, "status": "absent"} for k in CORE_ABSENT if k not in present and not (k == "pac" and "atrial_fibrillation" in present)]
    ctx = {}
    age = re.search(r"#\s*Age:\s*(\d+)", header_text)
    sex = re.search(r"#\s*Sex:\s*(\w+)", header_text)
    if age:
        ctx["age"] = float(age.group(1))
    if sex and sex.group(1).lower() in ("male", "female"):
        ctx["sex"] = sex.group(1).lower()
    return st, ctx, sorted(codes)


def build_cinc2020(ctx: BuildContext, root: Path, res: BuildResult) -> None:
    headers = sorted(root.glob("*.hea"))
    n = ctx.size(10, len(headers))
    if n < len(headers):
        res.notes.append(f"CinC 2020: {n} of {len(headers)} records")
    for hea in _spread(headers, n):
        case_id = f"cinc2020-{hea.stem}"
        if not ctx.wants(case_id):
            continue
        st, c, codes = cinc2020_expectations(hea.read_text(errors="replace"))
        res.cases.append(_case(ctx, case_id, [f"shared:ecg/cinc2020/{hea.stem}.hea", f"shared:ecg/cinc2020/{hea.stem}.mat"],
                               f"PhysioNet/CinC Challenge 2020 record {hea.stem}: #Dx {','.join(codes)}", st, context=c,
                               description=f"12-lead, SNOMED {','.join(codes)}"))  # fmt: skip


# --- single records --------------------------------------------------------------------


def build_singles(ctx: BuildContext, root: Path, res: BuildResult) -> None:
    singles = [
        ("ptb-s0010_re", ["s0010_re.hea", "s0010_re.dat", "s0010_re.xyz"], "PTB Diagnostic ECG Database: acute infero-lateral myocardial infarction",
         [{"any_of": ["st_elevation_*", "pathological_q_waves_*"], "status": "present", "name": "infarct pattern (ST elevation or Q waves)"},
          {"id": "atrial_fibrillation", "status": "absent"}], {"age": 81.0, "sex": "female"}, []),
        ("macecgdb-test01_00s", ["test01_00s.hea", "test01_00s.dat"], "MAC ECG database: healthy 25-year-old man, no diagnoses",
         [{**SINUS_ANY, "status": "present"}, {"id": "atrial_fibrillation", "status": "absent"}, {"id": "lbbb", "status": "absent"},
          {"id": "rbbb", "status": "absent"}], {"age": 25.0, "sex": "male"}, []),
        ("cinc2015-a103l", ["a103l.hea", "a103l.mat"], "PhysioNet/CinC Challenge 2015: 'Asystole' alarm adjudicated false",
         [], {}, ["pause"]),
        ("cinc2015-v102s", ["v102s.hea", "v102s.dat"], "PhysioNet/CinC Challenge 2015: 'Ventricular tachycardia' alarm adjudicated false",
         [], {}, ["nsvt"]),
        ("mimicdb-03700181", ["03700181.hea", "03700181.dat"], "MIMIC database: ICU monitoring record without a diagnostic label (report must be grounded)",
         [], {}, []),
    ]  # fmt: skip
    n = ctx.size(len(singles), len(singles))
    for case_id, files, source, st, c, must_not in singles[:n]:
        if not ctx.wants(case_id) or not all((root / f).is_file() for f in files):
            continue
        res.cases.append(_case(ctx, case_id, [f"shared:ecg/{f}" for f in files], source, st, context=c, description=source, must_not=must_not))


def build(ctx: BuildContext) -> BuildResult:
    res = BuildResult()
    if ctx.shared is None or not (ctx.shared / "ecg").is_dir():
        res.skipped.append(("ecg-real", "../shared/data/ecg is absent on this machine (set CARDIO_SHARED_DATA); the suite needs the PhysioNet records"))
        return res
    ecg = ctx.shared / "ecg"
    for name, fn, path in (("ludb", build_ludb, ecg / "ludb"), ("mitdb", build_mitdb, ecg), ("cinc2017", build_cinc2017, ecg / "cinc2017"),
                           ("cinc2020", build_cinc2020, ecg / "cinc2020"), ("singles", build_singles, ecg)):  # fmt: skip
        if not path.is_dir():
            res.skipped.append((name, f"{path} is absent"))
            continue
        fn(ctx.sub(name), path, res)
    return res
