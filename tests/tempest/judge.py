"""Reads Tempest's results (CSV from subunit2csv) and judges a run of tests/tempest/run.sh.

  judge.py retry RESULTS KNOWN        prints an include-list (regexes) of the failures that
                                      known-failures.txt does not list, for one retry
  judge.py judge [--filtered] --known KNOWN --min-pass FILE --elapsed S --label L CSV...
                                      the verdict over the first run and its retry (a later
                                      CSV's result wins for a test it ran): exits 1 when a
                                      test fails that KNOWN does not list, or when fewer tests
                                      pass than min-pass
"""
import argparse
import csv
import re
import sys


def name_of(test):
    """A test's id without Tempest's [id-...,tags] suffix; fixture failures keep their form."""
    return re.sub(r"\[.*\]$", "", test.strip())


def read(path):
    status = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            status[name_of(row["test"])] = row["status"]
    return status


def known_failures(path):
    known = set()
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            known.add(line)
    return known


def regex_for(test):
    """An include-list line that selects the test again (its class for a fixture failure)."""
    m = re.match(r"^(setUpClass|tearDownClass) \((.*)\)$", test)
    if m:
        return "^" + re.escape(m.group(2)) + r"\."
    return "^" + re.escape(test) + r"(\[|$)"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "retry":
        status = read(sys.argv[2])
        known = known_failures(sys.argv[3])
        for test, s in sorted(status.items()):
            if s == "failure" and test not in known:
                print(regex_for(test))
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["judge"])
    parser.add_argument("--known", required=True)
    parser.add_argument("--min-pass", required=True)
    parser.add_argument("--elapsed", default="?")
    parser.add_argument("--label", default="demo")
    parser.add_argument("--filtered", action="store_true")
    parser.add_argument("csvs", nargs="+")
    args = parser.parse_args()
    first = read(args.csvs[0])
    status = dict(first)
    for later in args.csvs[1:]:
        for test, s in read(later).items():
            if s == "success" and status.get(test) == "failure":
                print(f"flaky (passed on retry): {test}")
            status[test] = s
        # A class whose fixture failed the first time and passed on retry.
        for test in list(status):
            if test.startswith("setUpClass (") and status[test] == "failure":
                cls = test[len("setUpClass ("):-1]
                if any(t.startswith(cls + ".") and s == "success" for t, s in read(later).items()):
                    print(f"flaky (passed on retry): {test}")
                    del status[test]
    known = known_failures(args.known)
    passed = sorted(t for t, s in status.items() if s == "success")
    failed = sorted(t for t, s in status.items() if s == "failure")
    skipped = sorted(t for t, s in status.items() if s == "skip")
    unexpected = [t for t in failed if t not in known]
    for t in unexpected:
        print(f"FAIL {t}")
    for t in sorted(t for t in passed if t in known):
        print(f"now passes (remove it from known-failures.txt): {t}")
    print(
        f"tempest ({args.label}): {len(passed)} passed, {len(failed)} failed "
        f"({len(failed) - len(unexpected)} known), {len(skipped)} skipped in {args.elapsed}s"
    )
    if args.filtered:
        return 0
    minimum = int(open(args.min_pass).read().split()[0])
    ok = True
    if unexpected:
        print(f"tempest: {len(unexpected)} failures not in known-failures.txt")
        ok = False
    if len(passed) < minimum:
        print(f"tempest: {len(passed)} passed, fewer than min-pass ({minimum})")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
