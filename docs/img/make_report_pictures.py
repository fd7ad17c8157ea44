"""Render every sheet of a sample workbook to PNG for docs/report.md.

    .venv/bin/python docs/img/make_report_pictures.py

Runs the bank-deposit sample (execute) on a fresh built-in sandbox in a temporary folder,
converts the workbook to PDF with LibreOffice (``soffice``) and each page to PNG with
``pdftoppm`` (poppler-utils); a page is named after the sheet in its header (``&A``).
Writes docs/img/report-<sheet>-<n>.png. Needs LibreOffice and poppler-utils (apt-get).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "img"
RESOLUTION = 70  # dots per inch: a landscape page is about 820 x 580 pixels


def main() -> None:
    for tool in ("soffice", "pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install libreoffice-calc poppler-utils)")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        shutil.copytree(REPO / "samples", tmp / "samples")  # a fresh sandbox, as a user has
        subprocess.run(
            [sys.executable, "-m", "batchpay.cli", "run", "samples/bank-deposits/job.yaml",
             "samples/bank-deposits/deposits.csv", "--execute", "--yes", "--report",
             str(tmp / "report.xlsx")], cwd=tmp, check=False, capture_output=True)
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp),
                        str(tmp / "report.xlsx")], check=True, capture_output=True)
        pdf = tmp / "report.pdf"
        for old in OUT.glob("report-*.png"):
            old.unlink()
        seen: dict[str, int] = {}
        for page in range(1, _pages(pdf) + 1):
            sheet = _sheet_of(pdf, page)
            seen[sheet] = seen.get(sheet, 0) + 1
            name = f"report-{re.sub(r'[^a-z0-9]+', '-', sheet.lower()).strip('-')}"
            target = OUT / f"{name}-{seen[sheet]}"
            subprocess.run(["pdftoppm", "-r", str(RESOLUTION), "-png", "-singlefile", "-f",
                            str(page), "-l", str(page), str(pdf), str(target)], check=True)
            print(target.with_suffix(".png").relative_to(REPO))


def _pages(pdf: Path) -> int:
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    return text.count("\f")


def _sheet_of(pdf: Path, page: int) -> str:
    """The sheet name the page header shows at its right (the first line of the page)."""
    text = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf),
                           "-"], check=True, capture_output=True, text=True).stdout
    first = next(line for line in text.splitlines() if line.strip())
    return re.split(r"\s{2,}", first.strip())[-1]


if __name__ == "__main__":
    main()
