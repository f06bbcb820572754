"""What a suite is: a builder that produces case folders, and the registry.

Why builders: simulator suites generate their inputs (a DICOM cine, an
apical clip, k-space) at run time from held-out seeds instead of
committing megabytes; real-data suites write case.yaml files that point
at the shared PhysioNet records with the databases' own labels. Either
way the builder's output is ordinary case folders, loaded and scored like
a hand-written one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from evals.harness.case import CASE_FILE, CaseFormatError, CaseSkipped, LoadedCase, load_case, shared_data_dir

SUITES: dict[str, str] = {
    "ecg-real": "evals.suites.ecg_real",
    "ecg-synthetic": "evals.suites.ecg_synthetic",
    "echo-sim": "evals.suites.echo_sim",
    "cmr-sim": "evals.suites.cmr_sim",
    "recon-sim": "evals.suites.recon_sim",
    "multimodal": "evals.suites.multimodal",
    "mirage": "evals.suites.mirage",
    "chat": "evals.suites.chat",
    "smoke": "evals.suites.smoke",
}
ALL_SUITES = [s for s in SUITES if s != "smoke"]


@dataclass
class BuildContext:
    """How big to build and where to put generated inputs."""

    work_dir: Path
    limit: int | None = None  # at most this many cases per source (None: the suite's default size)
    full: bool = False  # every case the suite can build (overrides the default size, not --limit)
    select: list[str] | None = None  # only these case ids (shell wildcards)
    shared: Path | None = field(default_factory=shared_data_dir)

    def size(self, default: int, full: int) -> int:
        if self.limit is not None:
            return min(self.limit, full)
        return full if self.full else default

    def wants(self, case_id: str) -> bool:
        import fnmatch

        return self.select is None or any(fnmatch.fnmatchcase(case_id, p) for p in self.select)

    def sub(self, name: str) -> "BuildContext":
        d = self.work_dir / name
        d.mkdir(parents=True, exist_ok=True)
        return BuildContext(work_dir=d, limit=self.limit, full=self.full, select=self.select, shared=self.shared)


@dataclass
class BuildResult:
    cases: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (case or source, reason)
    notes: list[str] = field(default_factory=list)  # e.g. "reduced size: 20 of 200 LUDB records"
    suite_of: dict[str, str] = field(default_factory=dict)  # case folder → suite name (composite suites)

    def extend(self, other: "BuildResult", prefix: str = "") -> None:
        self.cases += other.cases
        self.skipped += [(f"{prefix}{a}", b) for a, b in other.skipped]
        self.notes += [f"{prefix}{n}" for n in other.notes]
        for c in other.cases:
            self.suite_of.setdefault(str(c), other.suite_of.get(str(c), prefix.rstrip("/")))


@dataclass
class Suite:
    name: str
    description: str
    build: Callable[[BuildContext], BuildResult]


def get_suite(name: str) -> Suite:
    """A registered suite, or a folder of case folders (or one case folder)."""
    if name in SUITES:
        mod = importlib.import_module(SUITES[name])
        return Suite(name=name, description=mod.DESCRIPTION, build=mod.build)
    path = Path(name)
    if path.is_dir():
        return Suite(name=path.name, description=f"case folders under {path}", build=lambda ctx: folder_cases(path, ctx))
    raise KeyError(f"unknown suite {name!r}; choose from {', '.join(SUITES)} or give a folder of case folders")


def folder_cases(root: Path, ctx: BuildContext | None = None) -> BuildResult:
    """Every folder under `root` that holds a case.yaml (or root itself)."""
    if (root / CASE_FILE).is_file():
        return BuildResult(cases=[root])
    found = sorted(p.parent for p in root.rglob(CASE_FILE))
    if ctx is not None:
        found = [p for p in found if ctx.wants(p.name)]
    return BuildResult(cases=found)


def load_built(result: BuildResult, suite: str) -> tuple[list[LoadedCase], list[tuple[str, str]], list[tuple[str, str]]]:
    """Load every built folder: (cases, skipped (id, reason), bad (id, error))."""
    cases, skipped, bad = [], list(result.skipped), []
    for folder in result.cases:
        try:
            cases.append(load_case(folder, suite=result.suite_of.get(str(folder), "") or suite))
        except CaseSkipped as exc:
            skipped.append((folder.name, str(exc)))
        except CaseFormatError as exc:
            bad.append((folder.name, str(exc)))
    ids = [c.qualified_id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        bad += [(i, "duplicate case id in the suite") for i in sorted(dup)]
        cases = [c for c in cases if c.qualified_id not in dup]
    return cases, skipped, bad
