"""Reads what the lab's writer put on a disk (``python -m lab cat`` output) on stdin; prints JSON.

{"lines": N, "first": first line, "last": last line, "max_gap": the longest pause between two lines in seconds,
 "gap_at": the line before that pause}
"""

import datetime
import json
import sys


def stamp(line):
    return datetime.datetime.strptime(line.split()[0].rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")


def main():
    lines = [line.strip() for line in sys.stdin if line.strip()]
    gap, gap_at = 0.0, None
    for before, after in zip(lines, lines[1:]):
        seconds = (stamp(after) - stamp(before)).total_seconds()
        if seconds > gap:
            gap, gap_at = seconds, before
    print(json.dumps({"lines": len(lines), "first": lines[0] if lines else None, "last": lines[-1] if lines else None,
                      "max_gap": round(gap, 1), "gap_at": gap_at}))


if __name__ == "__main__":
    main()
