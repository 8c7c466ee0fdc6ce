"""Dates as UN documents print them, in Chinese and English: a day, a range, a range across months."""

from __future__ import annotations

import re

ZH_DATE = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*至\s*(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*日)?"
)
MONTHS = {
    m: i
    for i, m in enumerate(
        "january february march april may june july august september october november december".split(), 1
    )
}
EN_DATE = re.compile(
    r"(\d{1,2})(?:\s*[-–]\s*(\d{1,2}))?\s+(" + "|".join(MONTHS) + r")(?:\s*[-–]\s*(\d{1,2})\s+("
    + "|".join(MONTHS) + r"))?\s+(\d{4})",
    re.IGNORECASE,
)

def parse_dates(line: str) -> tuple[str, str] | None:
    m = ZH_DATE.search(line)
    if m:
        year, month, day, end_month, end_day = m.groups()
        start = f"{year}-{int(month):02d}-{int(day):02d}"
        end = f"{year}-{int(end_month or month):02d}-{int(end_day or day):02d}"
        return start, end
    m = EN_DATE.search(line)
    if m:
        day, end_day, month, end_day2, end_month, year = m.groups()
        start_month = MONTHS[month.lower()]
        start = f"{year}-{start_month:02d}-{int(day):02d}"
        if end_day2:
            end = f"{year}-{MONTHS[end_month.lower()]:02d}-{int(end_day2):02d}"
        else:
            end = f"{year}-{start_month:02d}-{int(end_day or day):02d}"
        return start, end
    return None
