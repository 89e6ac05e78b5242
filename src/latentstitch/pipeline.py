"""The pipeline, declared once: its stages, what each reads and writes, and the config it reads.
``dvc.yaml`` is generated from this (``python scripts/compose_params.py`` writes it with
params.yaml; a test fails when it is stale), never written by hand.

Each stage's DVC ``deps`` are derived, not listed: the source files its module imports,
transitively within ``latentstitch`` (every ``import`` statement, including those inside
functions, and the ``__init__.py`` of every package on the way: :func:`module_files`), the
extra files it reads, and the outputs of the stages it reads. Its ``params`` are the sections
of params.yaml it reads (everything that decides a result is in params.yaml:
``latentstitch.params``). No stage module imports another: shared code lives in library
modules (``latentstitch.layout`` for where artifacts live, ``latentstitch.fitting``,
``latentstitch.artifacts``, ``latentstitch.plan``).

Adding a stage: a module ``latentstitch.stages.<name>`` with ``run(cfg)`` and ``main()``
(``stage_main``), an entry in ``STAGES`` below, then ``python scripts/compose_params.py``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "latentstitch"
SRC = Path(__file__).resolve().parent  # src/latentstitch
REPO = SRC.parents[1]

# Artifacts (DVC outputs), by id -> path template (dvc.yaml interpolates params.yaml's paths).
ENCODINGS = "${paths.encodings_dir}"
HEADS = "${paths.results_dir}/heads"
RELATIVE_HEADS = "${paths.results_dir}/relative_heads"
AUTOENCODERS = "${paths.results_dir}/autoencoders"
STITCH = "${paths.results_dir}/stitch"
APPENDIX = "${paths.results_dir}/appendix"
REPORT = "${paths.results_dir}/report"
METRICS = "${paths.results_dir}/metrics.json"
PLOTS = "${paths.results_dir}/plots"


@dataclass(frozen=True)
class Stage:
    name: str
    module: str  # run as `python -m <module> --params params.yaml`
    params: tuple[str, ...]  # the params.yaml sections it reads
    reads: tuple[str, ...] = ()  # upstream artifacts
    writes: tuple[str, ...] = ()  # its outputs (persist: a failed run never deletes them)
    files: tuple[str, ...] = ()  # other files it reads (repo-relative)
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    description: str = ""


STAGES: tuple[Stage, ...] = (
    Stage(
        "config",
        "latentstitch.validation",
        params=(),
        files=("conf",),
        description="params.yaml fresh (conf/ unchanged since it was composed) and valid, every model available",
    ),
    Stage(
        "encode",
        "latentstitch.stages.encode",
        params=(
            "suite.tiny",
            "suite.datasets",
            "datasets",
            "encoders",
            "encode",
            "device",
            "paths.encodings_dir",
            "paths.models_dir",
        ),
        writes=(ENCODINGS,),
        description="every suite dataset x its encoders x (train, test)",
    ),
    Stage(
        "train_heads",
        "latentstitch.stages.train_heads",
        params=("suite.name", "suite.datasets", "heads", "seed", "device"),
        reads=(ENCODINGS,),
        writes=(HEADS,),
    ),
    Stage(
        "train_relative_heads",
        "latentstitch.stages.train_relative_heads",
        params=(
            "suite.name",
            "suite.datasets",
            "suite.anchors",
            "suite.stitch",
            "translator",
            "translators",
            "scaling",
            "anchors",
            "heads",
            "seed",
            "device",
        ),
        reads=(ENCODINGS,),
        writes=(RELATIVE_HEADS,),
    ),
    Stage(
        "train_autoencoders",
        "latentstitch.stages.train_autoencoders",
        params=("suite.name", "suite.datasets", "datasets", "autoencoders", "device"),
        writes=(AUTOENCODERS,),
    ),
    Stage(
        "stitch",
        "latentstitch.stages.stitch",
        params=(
            "suite.name",
            "suite.datasets",
            "suite.anchors",
            "suite.stitch",
            "translator",
            "translators",
            "scaling",
            "anchors",
            "datasets",
            "device",
        ),
        reads=(ENCODINGS, HEADS, RELATIVE_HEADS, AUTOENCODERS),
        writes=(STITCH,),
    ),
    Stage(
        "appendix",
        "latentstitch.stages.appendix",
        params=(
            "suite.name",
            "suite.tiny",
            "suite.datasets",
            "suite.appendix",
            "datasets",
            "encoders",
            "heads",
            "translators",
            "encode.batch_size",
            "seed",
            "device",
            "paths.models_dir",
        ),
        reads=(ENCODINGS, HEADS),
        writes=(APPENDIX,),
    ),
    Stage(
        "report",
        "latentstitch.stages.report",
        params=("suite.name", "suite.tiny", "suite.datasets", "suite.report", "datasets", "encoders", "translators"),
        reads=(STITCH, APPENDIX),
        writes=(REPORT,),
        files=("reports/paper/paper_values.csv",),
        metrics=(METRICS,),
        plots=(PLOTS,),
    ),
)


def _module_path(name: str) -> Path | None:
    """The source file of module ``latentstitch.x.y`` (a package's __init__.py), or None."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = SRC.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every latentstitch module ``path`` imports (any import statement anywhere in it), with
    the packages on the way (importing a.b.c runs a/__init__ and a/b/__init__)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import sub` may import the submodule pkg.sub
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                found.add(".".join(parts[:i]))
    return {name for name in found if _module_path(name) is not None}


def module_files(module: str) -> list[Path]:
    """The source files ``module`` imports, transitively within latentstitch (itself included)."""
    todo, seen = [module], set()
    parts = module.split(".")
    todo += [".".join(parts[:i]) for i in range(1, len(parts))]
    while todo:
        name = todo.pop()
        if name in seen or _module_path(name) is None:
            continue
        seen.add(name)
        todo.extend(_imports(_module_path(name)))
    return sorted(_module_path(name) for name in seen)


def stage_deps(stage: Stage) -> list[str]:
    """The repo-relative paths DVC tracks for ``stage``: its sources, files and upstream artifacts."""
    sources = [p.relative_to(REPO).as_posix() for p in module_files(stage.module)]
    return sources + list(stage.files) + list(stage.reads)


def stages_reading(path: str) -> list[str]:
    """The stages whose deps include the repo-relative ``path``."""
    return [s.name for s in STAGES if path in stage_deps(s)]


def dvc_yaml() -> str:
    """dvc.yaml's text, generated from ``STAGES``."""
    lines = [
        "# GENERATED from src/latentstitch/pipeline.py by scripts/compose_params.py -- do not edit by hand.",
        "# Each stage's deps are the source files it imports (transitively, within latentstitch), the",
        "# files and upstream outputs it reads; its params the sections of params.yaml it reads.",
        "# Outputs persist: a stage keeps valid work, verifies it by content hash, and replaces what",
        "# it rebuilds atomically, so a failed run never leaves a previous output deleted.",
        "stages:",
    ]
    for stage in STAGES:
        lines.append(f"  {stage.name}:")
        if stage.description:
            lines.append(f"    desc: {stage.description}")
        lines.append(f"    cmd: python -m {stage.module} --params params.yaml")
        lines.append("    deps:")
        lines += [f"      - {dep}" for dep in stage_deps(stage)]
        if stage.params:
            lines.append("    params:")
            lines += [f"      - {key}" for key in stage.params]
        outs = (
            [(path, "outs") for path in stage.writes]
            + [(p, "metrics") for p in stage.metrics]
            + [(p, "plots") for p in stage.plots]
        )
        for kind in ("outs", "metrics", "plots"):
            chosen = [path for path, k in outs if k == kind]
            if not chosen:
                continue
            lines.append(f"    {kind}:")
            for path in chosen:
                lines.append(f"      - {path}:")
                # metrics and plots go to DVC's cache, so `dvc exp show` / `metrics diff` read
                # them for any experiment (results/ is not in git)
                lines.append(f"          cache: {'false' if kind == 'outs' else 'true'}")
                lines.append("          persist: true")
                if kind == "plots":
                    lines.append("          x: anchors")
    lines.append("")
    return "\n".join(lines)
