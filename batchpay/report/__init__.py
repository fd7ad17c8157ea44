"""The reconciliation report: an .xlsx workbook, a JSON summary and a terminal table,
rendered from plain result records (``batchpay.records``). Knows nothing of HTTP or pandera.

Modules, one concern each:

- ``totals``   control totals per currency (and by payment method / action)
- ``amounts``  minor units -> exact Decimal, number formats, amount text
- ``cells``    safe, styled cells (text never becomes a formula), one format per style
- ``cellxml``  cells rendered into XlsxWriter's row stream (fast, every string escaped)
- ``columns``  which columns each row sheet has
- ``sheets``   streamed row sheets: header, widths, autofilter, splitting
- ``summary``  the Summary sheet;  ``words`` its plain-English text
- ``workbook`` ``write_report`` and ``default_report_path``
- ``jsonout``  ``write_summary_json``;  ``terminal`` ``terminal_summary``, ``terminal_safe``,
  ``terminal_lines``
"""

from .jsonout import write_summary_json
from .terminal import terminal_lines, terminal_safe, terminal_summary
from .totals import CurrencyTotals, Totals, control_totals
from .workbook import default_report_path, write_report

__all__ = [
    "CurrencyTotals",
    "Totals",
    "control_totals",
    "default_report_path",
    "terminal_lines",
    "terminal_safe",
    "terminal_summary",
    "write_report",
    "write_summary_json",
]
