#!/usr/bin/env python3
"""Writes a JUnit result saying that a test suite was skipped, and why (``catkin_test_results`` counts it).

rosunit reports a skipped unittest as passed, so a suite that cannot run here (ros4hri.test without
hri_msgs) is reported by this instead: ``skipped_suite.py NAME REASON OUTPUT.xml``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr


def main(name: str, reason: str, output: str) -> int:
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<testsuite name={quoteattr(name)} tests="1" errors="0" failures="0" skipped="1">'
        f"<testcase classname={quoteattr('face_affect.' + name)} name={quoteattr(name)}>"
        f"<skipped message={quoteattr(reason)}/></testcase></testsuite>\n"
    )
    print(f"{name}: skipped: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
