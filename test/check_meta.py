#!/usr/bin/env python3
"""Check META.json, genie_fdw's PGXN release metadata.

Validates META.json against the PGXN Meta Spec 1.0.0 (required keys, the
form of each key the spec defines, no unknown keys except custom "x_" ones)
and against the project: its version is genie_fdw.control's default_version
(as SemVer: '1.1' is 1.1.0), genie_fdw is among the extensions it provides,
at that version, and each provided file exists -- genie_fdw's being the full
install script of the default version.

    python3 test/check_meta.py [META.json [genie_fdw.control]]

Prints each problem and exits 1 when there is one.  Standard library only.
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd",
    "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1",
    "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
    "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
    "restricted", "unrestricted", "unknown",
}
REQUIRED = ("name", "version", "abstract", "maintainer", "license", "provides", "meta-spec")
OPTIONAL = ("description", "generated_by", "tags", "no_index", "prereqs",
            "release_status", "resources")
PHASES = ("configure", "build", "test", "runtime", "develop")
RELATIONS = ("requires", "recommends", "suggests", "conflicts")

SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
          r"(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
          r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?")
SEMVER_RE = re.compile("^" + SEMVER + "$")
RANGE_ONE = r"(?:(?:[=!]=|[<>]=?)\s*)?(?:" + SEMVER + "|0)"
RANGE_RE = re.compile("^" + RANGE_ONE + r"(?:,\s*" + RANGE_ONE + ")*$")
TERM_RE = re.compile(r"^[^\s/\\:]{2,}$")
URI_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def custom(key):
    return isinstance(key, str) and re.match(r"^[xX]_.", key) is not None


class Checker:
    def __init__(self):
        self.problems = []

    def bad(self, where, what):
        self.problems.append("%s: %s" % (where, what))

    def string(self, where, value):
        if not isinstance(value, str) or not value.strip():
            self.bad(where, "must be a non-empty string")
            return False
        return True

    def keys(self, where, obj, allowed):
        for k in obj:
            if k not in allowed and not custom(k):
                self.bad(where, "unknown key %r" % k)

    def uri(self, where, value):
        if self.string(where, value) and not URI_RE.match(value):
            self.bad(where, "must be a URI: %r" % value)

    def check(self, meta, control, root):
        if not isinstance(meta, dict):
            self.bad("META.json", "must hold a JSON object")
            return
        for k in REQUIRED:
            if k not in meta:
                self.bad("META.json", "required key %r is missing" % k)
        self.keys("META.json", meta, REQUIRED + OPTIONAL)

        spec = meta.get("meta-spec")
        if spec is not None:
            if not isinstance(spec, dict) or spec.get("version") != "1.0.0":
                self.bad("meta-spec", 'must be an object with "version": "1.0.0"')
            else:
                self.keys("meta-spec", spec, ("version", "url"))
                if "url" in spec:
                    self.uri("meta-spec.url", spec["url"])
        if "name" in meta and self.string("name", meta["name"]) and not TERM_RE.match(meta["name"]):
            self.bad("name", "must be at least 2 characters without spaces, '/', '\\' or ':'")
        for k in ("abstract", "description", "generated_by"):
            if k in meta:
                self.string(k, meta[k])
        if "version" in meta and (not isinstance(meta["version"], str)
                                  or not SEMVER_RE.match(meta["version"])):
            self.bad("version", "must be a semantic version (x.y.z): %r" % meta.get("version"))
        if "maintainer" in meta:
            m = meta["maintainer"]
            if isinstance(m, list):
                if not m:
                    self.bad("maintainer", "must not be empty")
                for i, x in enumerate(m):
                    self.string("maintainer[%d]" % i, x)
            else:
                self.string("maintainer", m)
        if "license" in meta:
            self.license(meta["license"])
        if "provides" in meta:
            self.provides(meta["provides"], root)
        if "prereqs" in meta:
            self.prereqs(meta["prereqs"])
        if "resources" in meta:
            self.resources(meta["resources"])
        if "release_status" in meta and meta["release_status"] not in ("stable", "testing", "unstable"):
            self.bad("release_status", "must be stable, testing or unstable")
        if "tags" in meta:
            tags = meta["tags"]
            if not isinstance(tags, list) or not tags:
                self.bad("tags", "must be a non-empty list")
            else:
                for i, t in enumerate(tags):
                    if self.string("tags[%d]" % i, t) and len(t) > 255:
                        self.bad("tags[%d]" % i, "longer than 255 characters")
        if "no_index" in meta:
            ni = meta["no_index"]
            if not isinstance(ni, dict):
                self.bad("no_index", "must be an object")
            else:
                self.keys("no_index", ni, ("file", "directory"))

        self.project(meta, control, root)

    def license(self, lic):
        if isinstance(lic, str):
            if lic not in LICENSES:
                self.bad("license", "%r is not one of the spec's license strings" % lic)
        elif isinstance(lic, list):
            if not lic:
                self.bad("license", "must not be empty")
            for x in lic:
                if x not in LICENSES:
                    self.bad("license", "%r is not one of the spec's license strings" % x)
        elif isinstance(lic, dict):
            if not lic:
                self.bad("license", "must not be empty")
            for name, url in lic.items():
                self.uri("license.%s" % name, url)
        else:
            self.bad("license", "must be a string, a list or an object")

    def provides(self, prov, root):
        if not isinstance(prov, dict) or not prov:
            self.bad("provides", "must be a non-empty object")
            return
        for ext, info in prov.items():
            where = "provides.%s" % ext
            if not TERM_RE.match(ext):
                self.bad(where, "not a valid extension name")
            if not isinstance(info, dict):
                self.bad(where, "must be an object")
                continue
            self.keys(where, info, ("file", "version", "abstract", "docfile"))
            for k in ("file", "version"):
                if k not in info:
                    self.bad(where, "required key %r is missing" % k)
            if "version" in info and (not isinstance(info["version"], str)
                                      or not SEMVER_RE.match(info["version"])):
                self.bad(where + ".version", "must be a semantic version: %r" % info.get("version"))
            if "abstract" in info:
                self.string(where + ".abstract", info["abstract"])
            for k in ("file", "docfile"):
                if k in info and self.string(where + "." + k, info[k]):
                    path = info[k]
                    if path.startswith("/") or "\\" in path:
                        self.bad(where + "." + k, "must be a relative path with '/'")
                    elif not os.path.isfile(os.path.join(root, path)):
                        self.bad(where + "." + k, "file %s does not exist" % path)

    def prereqs(self, pre):
        if not isinstance(pre, dict) or not pre:
            self.bad("prereqs", "must be a non-empty object")
            return
        self.keys("prereqs", pre, PHASES)
        for phase, rels in pre.items():
            if custom(phase):
                continue
            where = "prereqs.%s" % phase
            if not isinstance(rels, dict) or not rels:
                self.bad(where, "must be a non-empty object")
                continue
            self.keys(where, rels, RELATIONS)
            for rel, deps in rels.items():
                if custom(rel):
                    continue
                if not isinstance(deps, dict):
                    self.bad(where + "." + rel, "must be an object")
                    continue
                for dep, rng in deps.items():
                    if not (rng == 0 or (isinstance(rng, str) and RANGE_RE.match(rng))):
                        self.bad("%s.%s.%s" % (where, rel, dep), "not a version range: %r" % rng)

    def resources(self, res):
        if not isinstance(res, dict) or not res:
            self.bad("resources", "must be a non-empty object")
            return
        self.keys("resources", res, ("homepage", "bugtracker", "repository"))
        if "homepage" in res:
            self.uri("resources.homepage", res["homepage"])
        for k, allowed in (("bugtracker", ("web", "mailto")), ("repository", ("url", "web", "type"))):
            if k not in res:
                continue
            v = res[k]
            if not isinstance(v, dict) or not v:
                self.bad("resources." + k, "must be a non-empty object")
                continue
            self.keys("resources." + k, v, allowed)
            for sub in ("web", "url"):
                if sub in v:
                    self.uri("resources.%s.%s" % (k, sub), v[sub])
            if "mailto" in v and self.string("resources.bugtracker.mailto", v["mailto"]) \
                    and "@" not in v["mailto"]:
                self.bad("resources.bugtracker.mailto", "not an e-mail address")
            if "type" in v:
                self.string("resources.repository.type", v["type"])

    def project(self, meta, control, root):
        m = re.search(r"^\s*default_version\s*=\s*'([^']*)'", control, re.M)
        if not m:
            self.bad("genie_fdw.control", "no default_version")
            return
        default = m.group(1)
        parts = default.split(".")
        semver = ".".join(parts + ["0"] * (3 - len(parts))) if len(parts) <= 3 else default
        if meta.get("version") != semver:
            self.bad("version", "%r is not genie_fdw.control's default_version %r (%s)"
                     % (meta.get("version"), default, semver))
        prov = meta.get("provides")
        if not isinstance(prov, dict) or "genie_fdw" not in prov or not isinstance(prov["genie_fdw"], dict):
            self.bad("provides", "does not provide genie_fdw")
            return
        info = prov["genie_fdw"]
        if info.get("version") != semver:
            self.bad("provides.genie_fdw.version", "%r is not the default_version %r (%s)"
                     % (info.get("version"), default, semver))
        script = "sql/genie_fdw--%s.sql" % default
        if info.get("file") != script:
            self.bad("provides.genie_fdw.file", "%r is not the install script of the default version, %s"
                     % (info.get("file"), script))


def main(argv):
    meta_path = argv[1] if len(argv) > 1 else os.path.join(ROOT, "META.json")
    control_path = argv[2] if len(argv) > 2 else os.path.join(ROOT, "genie_fdw.control")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print("not ok - %s: %s" % (meta_path, e))
        return 1
    with open(control_path, encoding="utf-8") as f:
        control = f.read()
    c = Checker()
    c.check(meta, control, os.path.dirname(os.path.abspath(meta_path)))
    for p in c.problems:
        print("not ok - " + p)
    if c.problems:
        print("%d problem(s) in %s" % (len(c.problems), meta_path))
        return 1
    print("ok - %s: PGXN Meta Spec 1.0.0 keys, version %s = default_version, provides %s"
          % (meta_path, meta["version"], ", ".join(sorted(meta["provides"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
