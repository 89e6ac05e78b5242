"""Plain renderers for report tables: GitHub Markdown and LaTeX (no tabulate/jinja needed)."""

from __future__ import annotations

import pandas as pd


def _text(value: object) -> str:
    if isinstance(value, float):
        return "–" if pd.isna(value) else f"{value:.3f}"
    return "–" if value is None or value is pd.NA else str(value)


def markdown_table(frame: pd.DataFrame, index: bool = True) -> str:
    """A GitHub Markdown table of ``frame`` (floats with 3 decimals, NaN as "–")."""
    header = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    rows = [
        ([_text(i)] if index else []) + [_text(v) for v in row]
        for i, row in zip(frame.index, frame.itertuples(index=False))
    ]
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines) + "\n"


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "±": r"$\pm$",
    "–": "--",
}


def _latex(value: object) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in _text(value))


def latex_table(frame: pd.DataFrame, caption: str, index: bool = True) -> str:
    """A LaTeX ``table`` with a booktabs ``tabular`` of ``frame`` and ``caption``."""
    header = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    rows = [([i] if index else []) + list(row) for i, row in zip(frame.index, frame.itertuples(index=False))]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_latex(caption)}}}",
        r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(_latex(h) for h in header) + r" \\",
        r"\midrule",
        *(" & ".join(_latex(v) for v in row) + r" \\" for row in rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
