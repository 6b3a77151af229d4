"""A synthetic but realistic registry in exchange format v1, for the bulk-import benchmark and tests.

Enterprises with correct GB 32100 credit codes in Jilin's county-level regions, coordinates
inside Jilin, two sites per enterprise on average, and carriers with ``吉A12345``-style plates.
Deterministic for a seed: only ``random.Random(seed)`` and the date passed in are used.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from weifei.core.identifiers import USCC_ALPHABET, credit_code_check_char

from .records import FORMAT_VERSION

# Plate letters after 吉 (吉A 长春 … 吉J 松原; there is no 吉I).
PLATE_LETTERS = "ABCDEFGHJ"
WORDS = ("化工", "机械", "汽车零部件", "制药", "电子", "建材", "新材料", "食品", "冶金", "印刷", "涂装", "热电")
SITE_NAMES = ("一厂区", "二厂区", "三厂区", "四厂区", "五厂区")


def credit_code(n: int, code6: str, *, seed: int = 0) -> str:
    """A valid 统一社会信用代码 numbered ``n`` in region ``code6`` (``91``: a company)."""
    value = n * 7919 + seed * 104729
    org = ""
    for _ in range(9):
        org = USCC_ALPHABET[value % 31] + org
        value //= 31
    first17 = f"91{code6}{org}"
    return first17 + credit_code_check_char(first17)


def plate(n: int) -> str:
    return f"吉{PLATE_LETTERS[n // 100_000 % len(PLATE_LETTERS)]}{n % 100_000:05d}"


def registry_records(
    *,
    regions: Sequence[tuple[str, str]],
    enterprises: int,
    sites: int,
    vehicles: int,
    today: dt.date,
    seed: int = 1,
    carrier_share: float = 0.1,
    first: int = 0,
) -> Iterator[dict[str, Any]]:
    """``regions``: (key, code6) of county-level regions. Yields enterprises, then sites, then
    vehicles; ``sites`` are spread over the enterprises (at least one each when sites ≥
    enterprises), ``vehicles`` over the carriers. ``first`` offsets the numbering of credit
    codes and plates, so that a second file does not collide with the first (plates are
    unique up to 900,000)."""
    rng = random.Random(seed)
    carriers = max(1, int(enterprises * carrier_share)) if vehicles else 0
    units: list[tuple[str, str, bool]] = []
    for n in range(enterprises):
        key, code6 = regions[rng.randrange(len(regions))]
        is_carrier = n < carriers
        code = credit_code(first + n + 1, code6 or "220102", seed=seed)
        units.append((code, key, is_carrier))
        lat = Decimal(rng.uniform(42.0, 45.6)).quantize(Decimal("0.000001"))
        lon = Decimal(rng.uniform(123.0, 129.6)).quantize(Decimal("0.000001"))
        yield {
            "type": "enterprise",
            "version": FORMAT_VERSION,
            "credit_code": code,
            "name": f"吉林省{rng.choice(WORDS)}第{n + 1}有限公司",
            "region": key,
            "roles": ["is_generator", "is_carrier"] if is_carrier else ["is_generator"],
            "legal_representative": f"张{n % 1000}",
            "address": f"吉林省测试路 {n + 1} 号",
            "industry_code": rng.choice(("2614", "3670", "2710", "3311", "5430" if is_carrier else "2651")),
            "latitude": str(lat),
            "longitude": str(lon),
            "contact_phone": f"0431-{8_000_000 + n}",
        }
    for i in range(sites):
        code, key, is_carrier = units[i % enterprises]
        index = i // enterprises
        started = today - dt.timedelta(days=rng.randrange(30, 365 * 12))
        tonnes = Decimal(rng.lognormvariate(1.0, 1.6)).quantize(Decimal("0.001"))
        yield {
            "type": "site",
            "version": FORMAT_VERSION,
            "enterprise": code,
            "name": SITE_NAMES[index % len(SITE_NAMES)] + (f"{index // len(SITE_NAMES)}" if index >= 5 else ""),
            "address": f"吉林省测试路 {i + 1} 号",
            "region": key,
            "roles": ["carrier_base", "generator"] if is_carrier and index == 0 else ["generator"],
            "latitude": str(Decimal(rng.uniform(42.0, 45.6)).quantize(Decimal("0.000001"))),
            "longitude": str(Decimal(rng.uniform(123.0, 129.6)).quantize(Decimal("0.000001"))),
            "operation_started_on": started.isoformat(),
            "eia_annual_tonnes": str(tonnes),
        }
    for i in range(vehicles):
        code, _key, _is_carrier = units[i % carriers]
        yield {
            "type": "vehicle",
            "version": FORMAT_VERSION,
            "plate": plate(first + i),
            "carrier": code,
            "transport_certificate": f"吉交运管{i + 1:08d}",
            "payload_tonnes": str(rng.choice((Decimal("8.000"), Decimal("15.500"), Decimal("30.000")))),
            "valid_until": (today + dt.timedelta(days=rng.randrange(60, 900))).isoformat(),
            "dangerous_goods_classes": rng.choice((["9"], ["3", "8"], ["6.1", "9"], ["4.1"])),
            "gps_terminal_id": f"GPS{i + 1:09d}",
        }
