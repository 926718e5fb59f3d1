"""Personal-data detection (`deshi.privacy.pii`): recall per kind on a synthetic labelled set,
and false positives on real texts that hold no personal data.

The labelled set is SYNTHETIC: sentences in English and Japanese written from templates, each
carrying identifiers generated from their public formats (valid Luhn card numbers, IBANs with
valid check digits, My Numbers with a valid check digit, Japanese and international phone
numbers, postal codes, addresses, birth dates, names in the contexts the rules read). It
measures whether the patterns cover the formats, not how often real messages use each one.
False positives are counted on the BANKING77 texts bundled with deshi (13,083 customer messages
that mention amounts, dates and transaction numbers, but no one's personal data); findings on
the Japanese MLIT complaints (42,372 published defect reports, from ../shared/datasets) are
listed so a reader can judge them: the ministry published them, so few should be personal.

    python bench/pii_bench.py [--per-kind 500] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import string
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

from deshi.privacy.pii import Kind, find_pii, my_number_valid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import machine

DIRECT = (Kind.EMAIL, Kind.PHONE, Kind.CARD, Kind.MY_NUMBER, Kind.POSTAL_CODE)
FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")

FIRST = ["John", "Maria", "Aiko", "David", "Sofia", "Liam", "Emma", "Noah", "Olivia", "James"]
LAST = ["Smith", "Garcia", "Tanaka", "Brown", "Rossi", "Okafor", "Miller", "Nguyen", "Khan"]
SEI = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
MEI = ["太郎", "花子", "健一", "美咲", "翔太", "陽菜", "大輔", "結衣"]
STREETS = ["Baker Street", "Oak Avenue", "Maple Road", "Elm Lane", "Sunset Boulevard", "High St"]
DOMAINS = ["example.com", "mail.example.co.jp", "corp.example.org"]
PLACES = [
    "東京都千代田区千代田",
    "大阪府大阪市北区梅田",
    "神奈川県横浜市中区山下町",
    "札幌市中央区北",
    "福岡県福岡市博多区",
]


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        candidate = body + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            digit = int(char)
            if position % 2 == 1:
                digit = digit * 2 - 9 if digit > 4 else digit * 2
            total += digit
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "37", "6011", "35"])
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = _luhn_complete(body)
    style = rng.random()
    if style < 0.4:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    if style < 0.7:
        return "-".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def my_number(rng: random.Random) -> str:
    while True:
        body = "".join(rng.choice(string.digits) for _ in range(11))
        for check in string.digits:
            if my_number_valid(body + check):
                number = body + check
                return rng.choice([number, f"{number[:4]} {number[4:8]} {number[8:]}",
                                   f"{number[:4]}-{number[4:8]}-{number[8:]}"])  # fmt: skip


def iban(rng: random.Random) -> str:
    bban = "WEST" + "".join(rng.choice(string.digits) for _ in range(14))
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    check = 98 - int(numeric) % 97
    compact = f"GB{check:02d}{bban}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def phone(rng: random.Random) -> tuple[str, str]:
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    forms = [
        ("en", f"+1 ({d(3)}) {d(3)}-{d(4)}"), ("en", f"{rng.randint(201, 989)}-{d(3)}-{d(4)}"),
        ("en", f"+44 20 {d(4)} {d(4)}"), ("ja", f"0{rng.choice('3456')}-{d(4)}-{d(4)}"),
        ("ja", f"0{rng.choice('789')}0-{d(4)}-{d(4)}"), ("ja", f"+81-90-{d(4)}-{d(4)}"),
        ("ja", f"0{rng.choice('789')}0{d(8)}"),
        ("ja", f"0{rng.choice('789')}0-{d(4)}-{d(4)}".translate(FULL_WIDTH)),
    ]  # fmt: skip
    return rng.choice(forms)


def postal(rng: random.Random) -> tuple[str, str, str]:
    """(language, as written in the sentence, the postal code itself)."""
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    uk = rng.choice(["SW1A 1AA", "NW1 6XE", "EC1A 1BB", "M1 1AE", "B33 8TH"])
    zip5, zip9 = d(5), f"{d(5)}-{d(4)}"
    forms = [
        ("ja", f"〒{d(3)}-{d(4)}", ""), ("ja", f"{d(3)}-{d(4)}", ""), ("en", uk, ""),
        ("en", f"CA {zip5}", zip5), ("en", f"NY {zip9}", zip9),
    ]  # fmt: skip
    lang, written, code = rng.choice(forms)
    return lang, written, code or written


def birth_date(rng: random.Random) -> tuple[str, str]:
    y, m, day = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
    forms = [
        ("en", f"{m:02d}/{day:02d}/{y}"), ("en", f"{y}-{m:02d}-{day:02d}"),
        ("en", f"{['January', 'March', 'July', 'October'][m % 4]} {day}, {y}"),
        ("ja", f"{y}年{m}月{day}日"), ("ja", f"昭和{rng.randint(20, 63)}年{m}月{day}日"),
    ]  # fmt: skip
    return rng.choice(forms)


def _sample(kind: Kind, rng: random.Random) -> tuple[str, str, str]:
    """(sentence, the datum, language) for one generated identifier of `kind`."""
    if kind is Kind.EMAIL:
        user = rng.choice(FIRST).lower() + rng.choice([".", "_", ""]) + rng.choice(LAST).lower()
        value = f"{user}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"
        sentence, lang = rng.choice(
            [
                (f"Please reply to {value} today.", "en"),
                (f"メールは{value}までお願いします。", "ja"),
            ]
        )
        return sentence, value, lang
    if kind is Kind.PHONE:
        lang, value = phone(rng)
        sentence = (
            f"Call me back on {value} after 5pm."
            if lang == "en"
            else f"折り返しは{value}までお願いします。"
        )
        return sentence, value, lang
    if kind is Kind.CARD:
        value = card(rng)
        sentence, lang = rng.choice(
            [(f"My card {value} was charged twice.", "en"),
             (f"カード番号{value}で二重に請求されました。", "ja")]
        )  # fmt: skip
        return sentence, value, lang
    if kind is Kind.MY_NUMBER:
        value = my_number(rng)
        return f"マイナンバーは{value}です。", value, "ja"
    if kind is Kind.POSTAL_CODE:
        lang, written, value = postal(rng)
        sentence = (
            f"Send it to the office, {written}."
            if lang == "en"
            else f"送付先は{written}の事務所です。"
        )
        return sentence, value, lang
    if kind is Kind.IBAN:
        value = iban(rng)
        return f"Please refund to IBAN {value} this week.", value, "en"
    if kind is Kind.BIRTH_DATE:
        lang, value = birth_date(rng)
        sentence = f"My date of birth is {value}." if lang == "en" else f"生年月日：{value}"
        return sentence, value, lang
    if kind is Kind.ADDRESS:
        if rng.random() < 0.5:
            value = f"{rng.randint(1, 999)} {rng.choice(STREETS)}"
            return f"I moved to {value}, so update my card address.", value, "en"
        value = f"{rng.choice(PLACES)}{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
        return f"住所は{value}に変わりました。", value, "ja"
    if kind is Kind.PERSON:
        if rng.random() < 0.5:
            value = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            return (
                rng.choice(
                    [
                        f"Hello, my name is {value} and I need help.",
                        f"Please ask Dr. {value} to call.",
                    ]
                ),
                value,
                "en",
            )
        value = rng.choice(SEI) + rng.choice(MEI)
        return rng.choice([f"{value}様からのお問い合わせです。", f"氏名：{value}"]), value, "ja"
    raise ValueError(kind)


def recall(per_kind: int, seed: int) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    results: dict[str, dict[str, float]] = {}
    kinds = [*DIRECT, Kind.IBAN, Kind.BIRTH_DATE, Kind.ADDRESS, Kind.PERSON]
    for kind in kinds:
        found = exact = 0
        for _ in range(per_kind):
            sentence, value, _lang = _sample(kind, rng)
            findings = [f for f in find_pii(sentence) if f.kind is kind]
            covered = any(f.value in value or value in f.value for f in findings)
            found += covered
            exact += any(f.value == value for f in findings)
        results[kind.value] = {"recall": found / per_kind, "exact_span": exact / per_kind}
    return results


MLIT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ja_mlit_vehicle_complaints"


def banking77_texts() -> list[str]:
    texts: list[str] = []
    for split in ("train.csv", "test.csv"):
        path = resources.files("deshi") / "data" / "banking77" / split
        with path.open(encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def mlit_texts() -> list[str]:
    """The MLIT complaints (research use: read here, never bundled); empty when absent."""
    texts: list[str] = []
    for split in ("train.csv", "dev.csv"):
        if (MLIT / split).exists():
            with (MLIT / split).open(encoding="utf-8") as f:
                texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def false_positives(texts: list[str]) -> dict[str, object]:
    flagged = Counter[str]()
    with_any = 0
    examples: list[str] = []
    started = time.perf_counter()
    for text in texts:
        findings = find_pii(text)
        with_any += bool(findings)
        for finding in findings:
            flagged[finding.kind.value] += 1
            if len(examples) < 10:
                examples.append(f"{finding.kind.value}: {finding.value!r} in {text!r}")
    seconds = time.perf_counter() - started
    return {
        "texts": len(texts),
        "texts_flagged": with_any,
        "flagged_share": with_any / len(texts),
        "by_kind": dict(flagged),
        "examples": examples,
        "texts_per_second": len(texts) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {
        "machine": machine(),
        "per_kind": args.per_kind,
        "seed": args.seed,
        "recall": recall(args.per_kind, args.seed),
        "false_positives_banking77": false_positives(banking77_texts()),
        "findings_mlit_complaints": false_positives(mlit_texts()),
    }
    direct = [result["recall"][k.value]["recall"] for k in DIRECT]  # type: ignore[index]
    result["direct_identifiers_recall_min"] = min(direct)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
