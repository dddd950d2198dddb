"""CSV as spreadsheets save it: the separator of a locale with a decimal comma, like Vietnamese."""

from __future__ import annotations


def delimiter_of(header: str) -> str:
    """The separator of a CSV file, judged from its header line.

    Spreadsheets in a locale with a decimal comma (Excel in Vietnamese among them) save
    "CSV" with semicolons; elsewhere with commas.
    """
    return ";" if header.count(";") > header.count(",") else ","
