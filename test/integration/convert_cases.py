#!/usr/bin/env python3
"""Inputs for the differential test of genie_fdw's typed fast paths.

Writes COPY text lines "type<TAB>ordinal<TAB>input" to stdout: for every
type, a table of edge cases (the forms Genie sends, exponents, NaN and
Infinity, signs, white space, Z and offsets, fractional seconds up to nine
digits and beyond, out-of-range values, leading zeros, empty strings, huge
numerics, BC dates, infinity timestamps, every boolean spelling, invalid
input) and then --count seeded random values, about half of them mutated
(characters inserted, deleted, replaced, duplicated) so that near misses of
every fast-path rule are met.  Same --seed, same output.

Standard library only.
"""
import argparse
import random

SPECIAL_FLOATS = ["NaN", "nan", "NAN", "-NaN", "+NaN", "Infinity", "-Infinity", "+Infinity",
                  "infinity", "-infinity", "inf", "-inf", "+inf", "Inf", "INFINITY", " NaN",
                  "NaN ", "Infinit", "Infinityy", "1e", "e5", ".", "-", "+", "--1", "0x1p3",
                  "1e-400", "1e400", "-1e400", "4.9e-324", "2.2250738585072014e-308",
                  "2.2250738585072011e-308", "1.7976931348623157e308", "1.7976931348623159e308",
                  "3.4028235e38", "3.4028236e38", "1.4e-45", "1e-46", "1.17549435e-38",
                  "3.336E8", "3.336e8", "3.336E+8", "3.336E-8", "-3.336E8", "1E22", "1E23",
                  "123456789012345", "1234567890123456", "12345678901234567890",
                  "0.1", "0.2", "0.3", "1.0", "-0", "-0.0", "0.0", "00", "007", "007.50",
                  "1.", ".5", "-.5", "5.e3", "1_000", "1 ", " 1", "\t1", "1\n", "",
                  "9007199254740993", "9007199254740992.5", "0.000001", "1e-7",
                  "123.456e-2", "1e0000", "1e-0", "1E+00022", "8.98846567431158e307",
                  "2.9802322387695312e-8", "0.1e1", "100000000000000000000000"]

INTS = ["0", "-0", "1", "-1", "007", "-007", "+1", " 1", "1 ", "\t1", "1\n", "", "-", "+",
        "32767", "32768", "-32768", "-32769", "9999", "99999", "2147483647", "2147483648",
        "-2147483648", "-2147483649", "999999999", "1000000000", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "999999999999999999", "1000000000000000000", "00000000000000000000001",
        "1.0", "1e3", "1_000", "0x10", "0o17", "0b101", "１２", "12a", "a12", "--1", "- 1",
        "3.336E8", "NaN", "Infinity"]

NUMERICS = ["0", "-0", "0.00", "-0.00", "1", "-1", "1.5", "-1.5", "123.45", "-123.45",
            "123.4", "123.456", "123.455", "123.445", "0.005", "0.004", "99999999.99",
            "999999999.99", "9999999999.99", "99999999999", "1e3", "1E-2", "3.336E8", "NaN",
            "nan", "Infinity", "-Infinity", "inf", "+1", " 1", "1 ", "", ".5", "5.", "-.5",
            "007.50", "00000000000000000000.1", "12345678901234", "123456789012345",
            "1234567890123.4", "0.12345678901234", "0.123456789012345",
            "123456789012345678901234567890.123456789",
            "9" * 131072, "1" + "0" * 1000, "0." + "0" * 999 + "1", "1_000", "1,5",
            "0.1000", "100", "100.00", "1000000", "10000", "0.0001", "0.00010"]

BOOLS = ["true", "false", "t", "f", "TRUE", "False", "yes", "no", "y", "n", "on", "off",
         "o", "1", "0", "tr", "tru", "fa", "true ", " true", "", "truee", "2", "Y", "ON",
         "of", "nope", "-1", "t\n"]

DATES = ["2024-01-15", "2024-02-29", "2023-02-29", "2024-13-01", "2024-00-10", "2024-01-00",
         "2024-01-32", "2024-04-31", "0001-01-01", "0000-01-01", "9999-12-31", "10000-01-01",
         "1900-02-29", "2000-02-29", "2024-1-15", "2024-01-5", "24-01-15", "2024/01/15",
         "2024-01-15T00:00:00", "2024-01-15 ", " 2024-01-15", "", "infinity", "-infinity",
         "epoch", "today", "0044-03-15 BC", "4713-01-01 BC", "4714-11-24 BC", "2024-01-15 AD",
         "20240115", "Jan 15 2024", "15-01-2024", "01/02/2003", "2024-01-15Z",
         "5874897-12-31", "5874898-01-01", "0999-01-01", "2024-01-1５"]

ZONES = ["", "Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+15:59", "-15:59", "+16:00",
         "+14:60", "+0530", "+05", "-8", " UTC", "UTC", " Z", "Z ", "+05:30:15", "+5:30",
         " America/New_York", " PST", "+05:3", "ZZ"]


def timestamps():
    out = ["2024-01-15T10:30:00.000Z", "2024-01-15T10:30:00Z", "2024-01-15 10:30:00",
           "2024-01-15T10:30:00", "2024-01-15T10:30:00.123456789Z", "2024-01-15T10:30:00.1234567Z",
           "2024-01-15T10:30:00.9999995Z", "2024-01-15T10:30:00.9999994Z",
           "2024-12-31T23:59:59.9999999Z", "2024-12-31T23:59:59.999999999",
           "2024-01-15T10:30:00.0000005Z", "2024-01-15T10:30:00.0000015Z",
           "2024-01-15T10:30:00.0000025Z", "2024-01-15T10:30:00.1234565Z",
           "2024-01-15T10:30:00.1234567890Z", "2024-01-15T10:30:00.Z", "2024-01-15T10:30:00.",
           "2024-01-15T24:00:00Z", "2024-01-15T23:60:00Z", "2024-01-15T23:59:60Z",
           "2024-01-15T25:00:00Z", "2024-01-15t10:30:00Z", "2024-01-15T10:30Z",
           "2024-01-15T10:30:00+05:30", "2024-01-15T10:30:00-08:00", "2024-01-15T10:30:00+16:00",
           "infinity", "-infinity", "Infinity", "epoch", "now", "", "2024-01-15",
           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0044-03-15 10:00:00 BC",
           "294276-12-31T23:59:59Z", "294277-01-01T00:00:00Z", "2024-02-30T00:00:00Z",
           "2024-01-15T10:30:00.000Z ", " 2024-01-15T10:30:00.000Z", "2024-01-15T10:30:00.000 Z",
           "2024-01-15 10:30:00.5 +05:30", "2024-01-15T10:30:00.000+0530",
           "2000-01-01T00:00:00Z", "1999-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.000Z",
           "2024-03-10T02:30:00", "2024-11-03T01:30:00"]
    for z in ZONES:
        out.append("2024-06-30T12:34:56.789" + z)
    return out


TEXTS = ["", " ", "a", "abc", "abcde", "abcdef", "  padded  ", "tab\there", "new\nline",
         "quote'\"", "back\\slash", "ü", "üüüüü", "üüüüüü", "日本語テキスト", "😀", "😀😀😀😀😀😀",
         "a     ", "abcde ", "abcdef ", "x" * 10000, "NULL", "null", "\\N"]


def mutate(rng, s, alphabet):
    s = list(s)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        pos = rng.randint(0, len(s))
        if op == 0 or not s:
            s.insert(pos, rng.choice(alphabet))
        elif op == 1:
            del s[min(pos, len(s) - 1)]
        elif op == 2:
            s[min(pos, len(s) - 1)] = rng.choice(alphabet)
        elif op == 3:
            i = min(pos, len(s) - 1)
            s.insert(i, s[i])
        else:
            s = s[:pos]
    return "".join(s)


def rand_int(rng):
    nd = rng.choice([1, 1, 2, 3, 4, 5, 9, 10, 18, 19, 20])
    d = "".join(rng.choice("0123456789") for _ in range(nd))
    return rng.choice(["", "", "-"]) + d


def rand_float(rng):
    k = rng.randrange(6)
    if k == 0:
        return repr(rng.uniform(-1e6, 1e6))
    if k == 1:
        return repr(rng.random() * 10 ** rng.randint(-320, 308))
    if k == 2:
        m = rng.randint(0, 10 ** rng.randint(1, 17))
        e = rng.randint(-30, 30)
        return "%s%d%s%d" % (rng.choice(["", "-"]), m, rng.choice("eE"), e)
    if k == 3:
        ip = str(rng.randint(0, 10 ** rng.randint(1, 10)))
        fp = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
        return rng.choice(["", "-"]) + ip + "." + fp
    if k == 4:
        m = "%d.%03d" % (rng.randint(0, 9), rng.randint(0, 999))
        return m + "E" + str(rng.randint(-45, 40))
    return rng.choice(SPECIAL_FLOATS)


def rand_numeric(rng):
    ip = "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 1, 2, 5, 8, 10, 12, 14, 16, 20])))
    s = rng.choice(["", "", "-"]) + ip
    if rng.random() < 0.7:
        s += "." + "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 2, 2, 3, 4, 6, 10, 15])))
    return s


def rand_date(rng):
    if rng.random() < 0.7:
        y, m, d = rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 31)
    else:
        y = rng.choice([rng.randint(1, 9999), rng.randint(1900, 2100), 0, 10000])
        m = rng.choice([rng.randint(1, 12), rng.randint(0, 13)])
        d = rng.choice([rng.randint(0, 32), 29, 30, 31])
    s = "%04d-%02d-%02d" % (y, m, d)
    if rng.random() < 0.05:
        s += " BC"
    return s


def rand_ts(rng):
    valid = rng.random() < 0.8
    s = "%04d-%02d-%02d" % (rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28)) \
        if valid else rand_date(rng)
    s += rng.choice(["T", "T", " "])
    if valid:
        s += "%02d:%02d:%02d" % (rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    else:
        s += "%02d:%02d:%02d" % (rng.choice([rng.randint(0, 23), 24, 25]),
                                 rng.choice([rng.randint(0, 59), 60]),
                                 rng.choice([rng.randint(0, 59), 60]))
    nd = rng.choice([0, 0, 1, 3, 3, 6, 7, 8, 9, 10])
    if nd:
        s += "." + "".join(rng.choice("0123456789") for _ in range(nd))
        if rng.random() < 0.1:
            s = s[:-nd] + "9" * nd
    if valid:
        z = rng.choice(["Z", "Z", "Z", "", "+05:30", "-08:00"])
    else:
        z = rng.choice(ZONES)
    if rng.random() < 0.2:
        z = "%s%02d:%02d" % (rng.choice("+-"), rng.randint(0, 16), rng.choice([0, 30, 45, 59, 60]))
    return s + z


def rand_text(rng):
    alphabet = "abc xyz\t\n'\"\\üé日😀"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 5, 6, 10, 40])))


def rand_bool(rng):
    return rng.choice(BOOLS)


# (type, edge cases, random generator, mutation alphabet)
TYPES = [
    ("smallint", INTS, rand_int, "0123456789-+ .e"),
    ("integer", INTS, rand_int, "0123456789-+ .e"),
    ("bigint", INTS, rand_int, "0123456789-+ .e_"),
    ("real", SPECIAL_FLOATS + INTS, rand_float, "0123456789-+ .eEnNaIfy"),
    ("double precision", SPECIAL_FLOATS + INTS, rand_float, "0123456789-+ .eEnNaIfy"),
    ("numeric", NUMERICS + SPECIAL_FLOATS, rand_numeric, "0123456789-+ .eE"),
    ("numeric(12,2)", NUMERICS, rand_numeric, "0123456789-+ .eE"),
    ("numeric(5,0)", NUMERICS, rand_numeric, "0123456789-+ .eE"),
    ("numeric(38,10)", NUMERICS, rand_numeric, "0123456789-+ .eE"),
    ("numeric(3,5)", NUMERICS, rand_numeric, "0123456789-+ .eE"),
    ("boolean", BOOLS, rand_bool, "truefalsyno 01"),
    ("date", DATES, rand_date, "0123456789-/ TZ"),
    ("timestamp", timestamps() + DATES, rand_ts, "0123456789-:.+ TZ"),
    ("timestamp(6)", timestamps(), rand_ts, "0123456789-:.+ TZ"),
    ("timestamp(3)", timestamps(), rand_ts, "0123456789-:.+ TZ"),
    ("timestamptz", timestamps() + DATES, rand_ts, "0123456789-:.+ TZ"),
    ("text", TEXTS, rand_text, "a ü😀\t"),
    ("varchar", TEXTS, rand_text, "a ü😀\t"),
    ("varchar(5)", TEXTS, rand_text, "a ü😀\t"),
    ("int_domain", INTS, rand_int, "0123456789-+ .e"),
]


def copy_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--count", type=int, default=3000, help="random values per type")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    for typ, edges, gen, alphabet in TYPES:
        values = list(edges)
        for _ in range(args.count):
            v = gen(rng)
            if rng.random() < 0.4:
                v = mutate(rng, v, alphabet)
            values.append(v)
        for i, v in enumerate(values):
            if "\0" in v:
                continue
            print("%s\t%d\t%s" % (typ, i, copy_escape(v)))


if __name__ == "__main__":
    main()
