"""The paper's published numbers (Tables 1-6 and 8), transcribed in reports/paper/paper_values.csv.

One tidy row per printed value, with the table, row and column it was read from; see
reports/paper/README.md for the columns and the transcription notes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from latentstitch.config import REPO_ROOT

PAPER_VALUES_CSV = REPO_ROOT / "reports" / "paper" / "paper_values.csv"

PAPER_TABLES = (1, 2, 3, 4, 5, 6, 8)

COLUMNS = (
    "table",
    "modality",
    "dataset",
    "head",
    "scaling",
    "decoder_l2",
    "method",
    "metric",
    "mean",
    "std",
    "anchors",
    "source_row",
    "source_column",
)

# Empty cells mean "not printed in the paper": std for the reconstruction tables, anchors
# where the caption does not state them, modality for the reconstruction tables.
_DTYPES = {
    "table": "int64",
    "modality": "string",
    "dataset": "string",
    "head": "string",
    "scaling": "string",
    "decoder_l2": "bool",
    "method": "string",
    "metric": "string",
    "mean": "float64",
    "std": "float64",
    "anchors": "Int64",
    "source_row": "string",
    "source_column": "string",
}


def load_paper_values(path: str | Path = PAPER_VALUES_CSV) -> pd.DataFrame:
    """All transcribed values of Tables 1-6 and 8, one row per printed number.

    Columns are :data:`COLUMNS`; ``std`` and ``anchors`` are missing where the paper prints none.
    Raises ``FileNotFoundError`` if the CSV is absent and ``ValueError`` if its header differs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"paper values CSV not found at {path}")
    header = tuple(pd.read_csv(path, nrows=0).columns)
    if header != COLUMNS:
        raise ValueError(f"{path} has columns {list(header)}; expected {list(COLUMNS)}")
    return pd.read_csv(path, dtype=_DTYPES)


def load_paper_table(table: int, path: str | Path = PAPER_VALUES_CSV) -> pd.DataFrame:
    """The transcribed values of one paper table (1, 2, 3, 4, 5, 6 or 8), index reset.

    Raises ``TypeError`` for a non-integer ``table`` and ``ValueError`` for a table that was
    not transcribed (Table 7 lists encoders, it holds no results).
    """
    if isinstance(table, bool) or not isinstance(table, int):
        raise TypeError(f"table must be an int, got {type(table).__name__} {table!r}")
    if table not in PAPER_TABLES:
        raise ValueError(f"no transcribed paper table {table}; available: {list(PAPER_TABLES)}")
    values = load_paper_values(path)
    return values[values["table"] == table].reset_index(drop=True)
