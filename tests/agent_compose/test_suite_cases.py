"""The synthesis cases of the multimodal and mirage suites build into valid
case folders with real inputs (the bundled PTB record is resolved, the
simulated echo written) and expectations that name corpus passages."""

from __future__ import annotations

import fnmatch

from evals.harness.suite import BuildContext, get_suite, load_built
from tests.agent_compose.helpers import corpus


def _build(name, tmp_path, select):
    ctx = BuildContext(work_dir=tmp_path / name, select=select)
    ctx.work_dir.mkdir(parents=True)
    return load_built(get_suite(name).build(ctx), name)


def test_real_ecg_synthesis_cases_build(tmp_path):
    cases, skipped, bad = _build("multimodal", tmp_path, ["ptb-mi-echo-low-ef", "lbbb-ef40-echo"])
    assert not bad, bad
    if skipped:  # the echo expert is not in this build
        assert all("not built" in why for _id, why in skipped)
        return
    by_id = {c.id: c for c in cases}
    ptb = by_id["ptb-mi-echo-low-ef"]
    names = sorted(p.name for p in ptb.inputs)
    assert names == ["a4c.dcm", "s0010_re.dat", "s0010_re.hea", "s0010_re.xyz"] and all(p.is_file() for p in ptb.inputs)
    ids = set(corpus())
    for case in cases:
        e = case.spec.expected
        patterns = [a for item in (e.guidelines or []) for a in getattr(item, "any_of", [item])] + list(e.guidelines_allowed)
        for pat in patterns:
            assert any(fnmatch.fnmatchcase(i, pat) for i in ids), f"{case.id}: {pat} names no corpus passage"
    assert r"\bCRT\b" in by_id["lbbb-ef40-echo"].spec.must_not.text


def test_mirage_synthesis_guards_build(tmp_path):
    cases, skipped, bad = _build("mirage", tmp_path, ["crt-ef-only-in-notes", "lbbb-blank-echo"])
    assert not bad, bad
    built = {c.id for c in cases} | {s[0] for s in skipped}
    assert built == {"crt-ef-only-in-notes", "lbbb-blank-echo"}
