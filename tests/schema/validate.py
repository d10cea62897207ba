#!/usr/bin/env python3
"""Validates recipe-harness artifacts against their schemas.

    validate.py [--expect-invalid] <file-or-dir>...

JSON files (*.json, and *.json.txt baselines, which may hold several JSON documents one
after the other) are validated against docs/schema/ when their "schema" field names a
recipe-harness schema ("recipe-harness/summary/v1" -> docs/schema/summary.v1.json).
A file named like one of our artifacts (summary.json, NN-<phase>.json) must carry such a
field. Other JSON files, and everything under a files/ folder (what recipe scripts write
with artifact()), are skipped.

JUnit reports (junit.xml, *.junit.xml) are validated against tests/schema/junit.xsd with
`xmllint --noout --schema`, then their counts are checked against their testcases.

Every violation is printed as "<file>: <JSON pointer or line>: <message>". The exit status
is 0 when every file validated and at least one file was validated, 1 otherwise, 2 on a
usage error or a missing tool.

--expect-invalid inverts the check for a folder of broken fixtures: it succeeds only when
every JSON and XML file under the paths is checked and rejected. A folder given on the
command line may hold "expected-violations.txt", whose lines read
"<file, relative to that folder>: <text>": that file's violations must include one
containing the text, so that a fixture cannot pass by failing for another reason.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_DIR = os.path.join(ROOT, "docs", "schema")
JUNIT_XSD = os.path.join(ROOT, "tests", "schema", "junit.xsd")
SCHEMA_PREFIX = "recipe-harness/"
EXPECTATIONS = "expected-violations.txt"
PACKET_NAME = re.compile(r"^[0-9]{2}-[a-z0-9-]+\.json$")


def fatal(message):
    print("validate.py: " + message, file=sys.stderr)
    sys.exit(2)


try:
    import jsonschema
except ImportError:
    fatal("the Python module jsonschema is missing (Debian: apt-get install python3-jsonschema)")


class Schemas:
    """The schemas of docs/schema/, by their "schema" field value, with $ref resolved locally."""

    def __init__(self, directory):
        self.by_id = {}
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                schema = json.load(f)
            jsonschema.Draft202012Validator.check_schema(schema)
            self.by_id[schema["$id"]] = schema
        self.validators = {}

    def validator(self, tag):
        # "recipe-harness/summary/v1" -> ".../summary.v1.json"
        parts = tag[len(SCHEMA_PREFIX):].split("/")
        if len(parts) != 2:
            return None
        suffix = "/%s.%s.json" % (parts[0], parts[1])
        matches = [i for i in self.by_id if i.endswith(suffix)]
        if len(matches) != 1:
            return None
        if tag not in self.validators:
            self.validators[tag] = self._make(self.by_id[matches[0]])
        return self.validators[tag]

    def _make(self, schema):
        try:  # jsonschema >= 4.18
            import referencing
            import referencing.jsonschema
        except ImportError:  # jsonschema 4.10 (Debian 12)
            resolver = jsonschema.RefResolver.from_schema(schema, store=dict(self.by_id))
            return jsonschema.Draft202012Validator(schema, resolver=resolver)
        registry = referencing.Registry().with_resources(
            (i, referencing.Resource.from_contents(s, default_specification=referencing.jsonschema.DRAFT202012))
            for i, s in self.by_id.items())
        return jsonschema.Draft202012Validator(schema, registry=registry)


def pointer(path):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def describe(error):
    message = error.message
    if error.context:
        # oneOf/anyOf: the alternative with the fewest violations is most likely the one meant.
        alternatives = {}
        for e in error.context:
            alternatives.setdefault(e.relative_schema_path[0], []).append(e)
        closest = min(alternatives.values(), key=len)
        message += " (closest alternative: %s)" % "; ".join(
            "%s: %s" % (pointer(e.absolute_path), e.message) for e in closest)
    return message


def json_documents(text):
    """The JSON documents of `text`, one after the other (a baseline may hold several)."""
    decoder = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return docs
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)


def is_ours_by_name(path):
    name = os.path.basename(path)
    return name == "summary.json" or bool(PACKET_NAME.match(name))


def check_json(path, schemas):
    """(documents checked, violations); no documents for a file that is none of ours."""
    try:
        with open(path, encoding="utf-8") as f:
            docs = json_documents(f.read())
    except (ValueError, UnicodeDecodeError) as e:
        if is_ours_by_name(path):
            return 1, ["%s: not JSON: %s" % (path, e)]
        return 0, []
    tagged = [isinstance(d, dict) and isinstance(d.get("schema"), str) and d["schema"].startswith(SCHEMA_PREFIX)
              for d in docs]
    if not any(tagged):
        if is_ours_by_name(path):
            return 1, ["%s: /schema: missing; expected a \"%s...\" schema name" % (path, SCHEMA_PREFIX)]
        return 0, []
    violations = []
    for n, doc in enumerate(docs):
        where = path if len(docs) == 1 else "%s[document %d]" % (path, n + 1)
        if not tagged[n]:
            violations.append("%s: /schema: missing; expected a \"%s...\" schema name" % (where, SCHEMA_PREFIX))
            continue
        validator = schemas.validator(doc["schema"])
        if validator is None:
            violations.append("%s: /schema: no schema %r in %s" % (where, doc["schema"], SCHEMA_DIR))
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
        for e in errors:
            violations.append("%s: %s: %s" % (where, pointer(e.absolute_path), describe(e)))
    return len(docs), violations


def junit_counts(path):
    """Counts that XML Schema 1.0 cannot check: each count agrees with what it counts."""
    violations = []
    root = ET.parse(path).getroot()
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for i, suite in enumerate(root.findall("testsuite"), 1):
        cases = suite.findall("testcase")
        actual = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for key, value in actual.items():
            totals[key] += value
            stated = suite.get(key)
            if stated is not None and int(stated) != value:
                violations.append("%s: /testsuites/testsuite[%d] (%s): %s=\"%s\" but it has %d" %
                                  (path, i, suite.get("name"), key, stated, value))
    for key, value in totals.items():
        stated = root.get(key)
        if stated is not None and int(stated) != value:
            violations.append("%s: /testsuites: %s=\"%s\" but its testsuites add up to %d" % (path, key, stated, value))
    return violations


def check_junit(path, xmllint):
    r = subprocess.run([xmllint, "--noout", "--schema", JUNIT_XSD, path], capture_output=True, text=True)
    if r.returncode == 0:
        return junit_counts(path)
    violations = []
    for line in r.stderr.splitlines():
        if not line.strip() or line == path + " fails to validate":
            continue
        # "<file>:<line>: element testcase: Schemas validity error : Element 'testcase': ..."
        line = re.sub(r"^(.*?:[0-9]+): (element \S+: )?Schemas validity error : ", r"\1: ", line)
        violations.append(line if line.startswith(path + ":") else "%s: %s" % (path, line))
    return violations or ["%s: xmllint failed (exit %d)" % (path, r.returncode)]


def is_junit(name):
    return name == "junit.xml" or name.endswith(".junit.xml")


def is_json(name):
    return name.endswith(".json") or name.endswith(".json.txt")


def collect(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                # Files a recipe script wrote with artifact() are the recipe's, not ours.
                dirnames[:] = sorted(d for d in dirnames if d != "files" and not d.startswith("."))
                files += [os.path.join(dirpath, f) for f in sorted(filenames)]
        elif os.path.isfile(p):
            files.append(p)
        else:
            fatal("no such file or folder: " + p)
    return [os.path.normpath(f) for f in files if is_json(os.path.basename(f)) or os.path.basename(f).endswith(".xml")]


def read_expectations(paths):
    """{file: [text, ...]} from the expected-violations.txt files of the given folders."""
    expected = {}
    for p in paths:
        f = os.path.join(p, EXPECTATIONS)
        if not os.path.isdir(p) or not os.path.isfile(f):
            continue
        with open(f, encoding="utf-8") as lines:
            for line in lines:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _, text = line.partition(": ")
                expected.setdefault(os.path.normpath(os.path.join(p, name)), []).append(text)
    return expected


def main():
    parser = argparse.ArgumentParser(description="Validate recipe-harness artifacts against their schemas.")
    parser.add_argument("--expect-invalid", action="store_true",
                        help="succeed only if every file under the paths is rejected")
    parser.add_argument("paths", nargs="+", metavar="file-or-dir")
    args = parser.parse_args()

    schemas = Schemas(SCHEMA_DIR)
    xmllint = shutil.which("xmllint")
    checked, skipped, rejected = [], [], {}
    documents, reports = 0, 0
    for path in collect(args.paths):
        name = os.path.basename(path)
        if is_junit(name):
            if xmllint is None:
                fatal("xmllint is missing (Debian: apt-get install libxml2-utils)")
            violations = check_junit(path, xmllint)
            reports += 1
        elif is_json(name):
            n, violations = check_json(path, schemas)
            documents += n
            if not n:
                skipped.append(path)
                continue
        else:
            skipped.append(path)
            continue
        checked.append(path)
        if violations:
            rejected[path] = violations
        for v in violations:
            print(v)

    if not args.expect_invalid:
        print("validated %d files (%d JSON documents, %d JUnit reports): %d valid, %d invalid; %d skipped (not ours)" %
              (len(checked), documents, reports, len(checked) - len(rejected), len(rejected), len(skipped)))
        if not checked:
            print("validate.py: no artifact was validated under " + " ".join(args.paths))
            return 1
        return 1 if rejected else 0

    problems = ["%s: expected to be rejected, but it is valid" % f for f in checked if f not in rejected]
    problems += ["%s: expected to be rejected, but it is not an artifact this script checks" % f for f in skipped]
    for f, texts in sorted(read_expectations(args.paths).items()):
        if f not in checked:
            problems.append("%s names %s, which is not among the files checked" % (EXPECTATIONS, f))
            continue
        for text in texts:
            if not any(text in v for v in rejected.get(f, [])):
                problems.append("%s: not rejected with a violation containing %r" % (f, text))
    for p in problems:
        print("validate.py: " + p)
    print("checked %d files expected to be invalid: %d rejected as expected; %d problems" %
          (len(checked) + len(skipped), len(rejected), len(problems)))
    if not checked:
        print("validate.py: no artifact was checked under " + " ".join(args.paths))
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
