"""batchpay's own "Fix and re-upload" workbook, recognised when it comes back as input.

The report workbook carries a custom document property (``MARKER``) that Excel and
LibreOffice keep when the file is edited and saved. A workbook with it is read from its fix
sheet, header on row 1, whatever the job's ``input`` says about the original file (CSV or
another sheet): the fields then map the same column names as in the original file. A bank's
workbook that merely has a sheet of that name is not batchpay's and is read as the job says.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from batchpay.spec import InputSpec

FIX_SHEET = "Fix and re-upload"
MARKER = "batchpay-fix-sheet"  # custom property name; its value is the sheet's name
_CUSTOM = "docProps/custom.xml"
_MAX_PROPS_BYTES = 2**20
_ZIP = b"PK\x03\x04"


def is_fix_workbook(path: Path) -> bool:
    """Is ``path`` a workbook batchpay wrote, with its fix sheet? False for anything else."""
    try:
        with Path(path).open("rb") as handle:
            if handle.read(4) != _ZIP:
                return False
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(_CUSTOM)
            if info.file_size > _MAX_PROPS_BYTES:
                return False
            xml = archive.read(info).decode("utf-8", "replace")
    except (KeyError, OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return False
    return re.search(rf'name="{MARKER}"', xml) is not None


def fix_sheet_note() -> str:
    """The run note that says which sheet was read, and why not the job's own."""
    return (f'read sheet "{FIX_SHEET}" of batchpay\'s own report ({MARKER} marker), header on '
            "row 1; the job's input options for the original file do not apply")  # fmt: skip


def fix_sheet_input(spec: InputSpec) -> InputSpec:
    """The job's input options for reading batchpay's fix sheet instead of the original."""
    return spec.model_copy(update={
        "format": "xlsx", "sheet": FIX_SHEET, "skip_lines": 0, "skip_footer": 0,
        "header": True, "columns": None, "drop_rows_matching": None, "comment_prefix": None,
    })  # fmt: skip
