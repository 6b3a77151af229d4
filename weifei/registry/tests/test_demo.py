"""The demo province generator: deterministic, realistic, and written through the services."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from weifei.accounts.models import Membership, RegulatorAssignment
from weifei.accounts.selectors import actor_for
from weifei.accounts.testing import login as login_through_pages
from weifei.catalog.models import CatalogueVersion, Region
from weifei.catalog.services import DATA_DIR, reference_load
from weifei.catalog.validation import validate_category, validate_waste_code
from weifei.core.identifiers import validate_credit_code
from weifei.core.models import Event
from weifei.registry import demo
from weifei.registry.demo import (
    CHANGBAISHAN_AREAS,
    DEMO_PASSWORD,
    DemoPlan,
    credit_code_make,
    demo_logins,
    demo_plan_build,
    demo_province_generate,
    demo_regions,
    uscc_check_char,
)
from weifei.registry.models import (
    Driver,
    Enterprise,
    Facility,
    GenerationProfile,
    Licence,
    RoadTransportLicence,
    Site,
    Vehicle,
)
from weifei.registry.services import PLATE_RE

TODAY = dt.date(2026, 6, 15)
PREFECTURES = ("220100", "220200", "220300", "220400", "220500", "220600", "220700", "220800", "222400")
JILIN_BOX = ((40.8, 46.4), (121.6, 131.4))  # (lat range, lng range)
CATALOGUE_2021 = {row["code"] for row in csv.DictReader((DATA_DIR / "hazardous_waste_list_2021.csv").open())}


@pytest.fixture
def regions(db: None) -> list[demo.RegionRef]:
    """County-level regions, with reference data loaded (``reference_load`` is idempotent,
    but the session already loaded it, so only reload when a test flushed it)."""
    if not demo.demo_reference_ready():
        reference_load()
    return demo_regions()


def _plan(regions: list[demo.RegionRef], *, seed: int = 7, scale: float = 0.2, today: dt.date = TODAY) -> DemoPlan:
    return demo_plan_build(seed=seed, scale=scale, regions=regions, today=today)


def _generator_totals(plan: DemoPlan) -> list[Decimal]:
    return [u.total_tonnes(plan.year) for u in plan.enterprises if "is_generator" in u.roles]


# -- the tables themselves ---------------------------------------------------------------


def test_every_waste_code_the_generator_uses_is_in_the_2021_catalogue() -> None:
    used: set[str] = {code for code, _ in demo.FOOD_CODES}
    for industry in demo.INDUSTRIES:
        for variant in industry.variants:
            used |= {code for code, _ in variant.codes}
    for _, codes in demo.SHOWCASE_PROFILES.values():
        used |= {code for code, _ in codes}
    for spec in demo.OPERATORS:
        used |= {code for code, _ in spec.emits}
    missing = sorted(used - CATALOGUE_2021)
    assert not missing, f"not in hazardous_waste_list_2021.csv: {missing}"


@pytest.mark.usefixtures("reference")
def test_every_licensed_category_is_a_real_category() -> None:
    for spec in demo.OPERATORS:
        for item in spec.categories:  # categories, or codes for 收集 licences
            if item.startswith("HW"):
                assert validate_category(item) == item
            else:
                assert spec.kind == "collection" and validate_waste_code(item, on=dt.date(2025, 1, 1)).code == item
    for category in demo.GENERAL_CATEGORIES:
        assert validate_category(category) == category


def test_credit_code_check_character_is_gb32100() -> None:
    assert uscc_check_char("91110000600037341") == "L"  # python-stdnum's documented example
    import random

    rng = random.Random(1)
    for prefix, code6 in [("91", "220102"), ("12", "222401"), ("92", "220000")]:
        for _ in range(300):
            code = credit_code_make(rng, prefix=prefix, code6=code6)
            assert validate_credit_code(code) == code
            assert code.startswith(prefix + code6)


# -- the plan (pure) -----------------------------------------------------------------------


def test_same_seed_builds_the_same_province(regions: list[demo.RegionRef]) -> None:
    first, second = _plan(regions), _plan(regions)
    assert first.enterprises == second.enterprises
    assert first.accounts == second.accounts
    assert _plan(regions, seed=8).enterprises != first.enterprises


def test_the_reference_date_moves_dates_but_draws_nothing(regions: list[demo.RegionRef]) -> None:
    early = _plan(regions, today=dt.date(2026, 1, 10))
    late = _plan(regions, today=dt.date(2026, 12, 20))

    def fingerprint(plan: DemoPlan) -> list[tuple[Any, ...]]:
        return [
            (
                u.credit_code,
                u.name,
                u.region_key,
                u.roles,
                u.latitude,
                u.longitude,
                u.profiles,
                [(v.plate, v.payload_tonnes) for v in u.vehicles],
                [lic.categories for lic in u.licences],
            )
            for u in plan.enterprises
        ]

    assert fingerprint(early) == fingerprint(late)
    early_valid = [v.valid_until for u in early.enterprises for v in u.vehicles]
    late_valid = [v.valid_until for u in late.enterprises for v in u.vehicles]
    assert all(b - a == dt.timedelta(days=344) for a, b in zip(early_valid, late_valid, strict=True))


@pytest.mark.parametrize("scale", [0.02, 0.2, 1.0])
def test_plan_covers_every_prefecture_changbaishan_and_meihekou(regions: list[demo.RegionRef], scale: float) -> None:
    plan = _plan(regions, scale=scale)
    by_key = {r.key: r for r in regions}
    placed = Counter(u.region_key for u in plan.enterprises)
    prefectures = Counter(by_key[key].parent_key for key in placed.elements())
    for code in PREFECTURES:
        assert prefectures[code] > 0, code
    for area in CHANGBAISHAN_AREAS:
        assert placed[area] > 0, area
    assert placed["220581"] > 0
    assert all(by_key[key].level in ("county", "zone", "area") for key in placed)
    if scale == 1.0:
        assert 550 <= len(plan.enterprises) <= 650
        groups = Counter(u.group for u in plan.enterprises)
        assert groups.most_common(2)[0][0] == "220100" and groups.most_common(2)[1][0] == "220200"


@pytest.mark.parametrize("scale", [0.02, 0.2])
def test_plan_has_licensed_operators_and_carriers_with_vehicles(regions: list[demo.RegionRef], scale: float) -> None:
    plan = _plan(regions, scale=scale)
    operators = [u for u in plan.enterprises if "is_operator" in u.roles]
    assert len(operators) >= 10
    assert all(u.licences for u in operators)
    assert {lic.kind for u in plan.enterprises for lic in u.licences} == {"comprehensive", "collection"}
    carriers = [u for u in plan.enterprises if "is_carrier" in u.roles]
    assert len({u.group for u in carriers} & set(PREFECTURES)) == 9
    assert all(u.vehicles for u in carriers)
    plates = [v.plate for u in carriers for v in u.vehicles]
    assert len(plates) == len(set(plates))
    assert all(PLATE_RE.match(p) for p in plates)
    assert all(v.valid_until > TODAY for u in carriers for v in u.vehicles)
    assert all(lic.valid_from <= TODAY for u in plan.enterprises for lic in u.licences)


@pytest.mark.parametrize("scale", [0.02, 0.2, 1.0])
def test_quantities_are_heavy_tailed(regions: list[demo.RegionRef], scale: float) -> None:
    totals = _generator_totals(_plan(regions, scale=scale))
    small = sum(1 for t in totals if t < 10)
    assert small > len(totals) / 2, f"{small} of {len(totals)} under 10 t"
    assert max(totals) > 1000
    assert all(t > 0 for t in totals)


def test_credit_codes_names_and_places_are_well_formed(regions: list[demo.RegionRef]) -> None:
    plan = _plan(regions, scale=1.0)
    codes = [u.credit_code for u in plan.enterprises]
    assert len(codes) == len(set(codes))
    assert all(validate_credit_code(code) == code for code in codes)
    names = [u.name for u in plan.enterprises]
    assert len(names) == len(set(names))
    (lat_lo, lat_hi), (lng_lo, lng_hi) = JILIN_BOX
    for unit in plan.enterprises:
        assert lat_lo < unit.latitude < lat_hi and lng_lo < unit.longitude < lng_hi, unit.name
        assert unit.address.startswith("吉林省")
    industries = Counter(u.industry_code[:2] for u in plan.enterprises)
    for division in ("36", "25", "26", "27", "13", "84", "81"):
        assert industries[division] > 0, division


def test_every_generation_profile_code_validates(regions: list[demo.RegionRef]) -> None:
    plan = _plan(regions, scale=0.5)
    for code, year in {(p.waste_code, p.year) for u in plan.enterprises for p in u.profiles}:
        validate_waste_code(code, on=dt.date(year, 12, 31))
    years = {p.year for u in plan.enterprises for p in u.profiles}
    assert years == {TODAY.year - 3, TODAY.year - 2, TODAY.year - 1}


# -- writing it --------------------------------------------------------------------------


@pytest.mark.django_db
def test_generate_writes_the_plan_through_the_services(regions: list[demo.RegionRef]) -> None:
    events_before = Event.objects.count()
    summary = demo_province_generate(seed=7, scale=0.2, today=TODAY)

    assert Enterprise.objects.count() == summary.enterprises
    assert GenerationProfile.objects.count() == summary.profiles
    assert Vehicle.objects.count() == summary.vehicles
    assert Licence.objects.count() == summary.licences
    # Every record was written by a service, so each has its creation event.
    for model, kind in (
        (Enterprise, "registry.enterprise_created"),
        (Site, "registry.site_created"),
        (Facility, "registry.facility_created"),
        (Vehicle, "registry.vehicle_created"),
        (Licence, "registry.licence_created"),
        (Driver, "registry.driver_created"),
        (RoadTransportLicence, "registry.road_licence_created"),
        (GenerationProfile, "registry.generation_profile_set"),
    ):
        ids = {str(pk) for pk in model.objects.values_list("pk", flat=True)}
        recorded = set(Event.objects.filter(kind=kind).values_list("subject_id", flat=True))
        assert ids and ids == recorded, kind
    accounts = summary.regulator_accounts + summary.enterprise_accounts
    assert Event.objects.filter(kind__startswith="accounts.").count() >= accounts
    assert Event.objects.count() > events_before
    # Every unit has a site with a computed management class; carriers have papers and crews.
    assert not Enterprise.objects.filter(sites__isnull=True).exists()
    assert not Site.objects.filter(management_class="").exists()
    assert (
        Site.objects.filter(management_class="key").exists()
        and Site.objects.filter(management_class="registered").exists()
    )
    assert not Enterprise.objects.filter(is_carrier=True, road_licences__isnull=True, vehicles__isnull=False).exists()

    keys = set(Enterprise.objects.values_list("region__key", flat=True))
    parents = set(Enterprise.objects.values_list("region__parent__key", flat=True))
    assert set(PREFECTURES) <= parents
    assert set(CHANGBAISHAN_AREAS) <= keys and "220581" in keys
    assert Enterprise.objects.filter(is_operator=True, licences__isnull=False).distinct().count() >= 10
    assert not Enterprise.objects.filter(is_carrier=True, vehicles__isnull=True).exists()
    for code, year in GenerationProfile.objects.values_list("waste_code", "year").distinct():
        validate_waste_code(code, on=dt.date(year, 12, 31))

    regulators = set(RegulatorAssignment.objects.values_list("region__key", flat=True))
    assert {"220000", *PREFECTURES, "changbaishan", "220581", "220102", "220211"} <= regulators
    assert RegulatorAssignment.objects.filter(role=RegulatorAssignment.Role.LIAISON).count() == 1
    assert Membership.objects.filter(enterprise__is_carrier=True, role="driver").exists()


@pytest.mark.django_db
def test_every_demo_login_works_and_lands_where_the_table_says(regions: list[demo.RegionRef], client: Client) -> None:
    demo_province_generate(seed=7, scale=0.05, today=TODAY)
    logins = demo_logins()
    assert {"sheng", "changchun", "jilin", "changbaishan", "meihekou", "nanguan"} <= {x.username for x in logins}
    for login in logins:
        user = authenticate(username=login.username, password=login.password)
        assert user is not None, login.username
        actor = actor_for(user)
        if login.landing == "/dashboard/":
            assert actor.is_regulator, login.username
        else:
            assert login.landing == "/enterprise/" and actor.enterprise_ids, login.username
        login_through_pages(client, login.username, login.password)  # regulators also type a TOTP code
        response = client.get("/home/")
        assert response.status_code == 302 and response["Location"] == login.landing, login.username
        assert client.get(login.landing).status_code == 200, login.username
        client.logout()
    province = authenticate(username="sheng", password=DEMO_PASSWORD)
    changbaishan = authenticate(username="changbaishan", password=DEMO_PASSWORD)
    assert actor_for(province).region_level == Region.Level.PROVINCE
    assert set(CHANGBAISHAN_AREAS) <= actor_for(changbaishan).region_codes


@pytest.mark.django_db
def test_demo_data_command_and_if_empty(regions: list[demo.RegionRef]) -> None:
    out = StringIO()
    call_command("demo_data", seed=3, scale=0.05, stdout=out)
    assert "演示数据已生成" in out.getvalue() and "长白山管委会" in out.getvalue()
    count = Enterprise.objects.count()

    out = StringIO()
    call_command("demo_data", seed=3, scale=0.05, if_empty=True, stdout=out)
    assert "未生成演示数据" in out.getvalue()
    assert Enterprise.objects.count() == count
    with pytest.raises(CommandError, match="已经生成过"):
        call_command("demo_data", seed=4, scale=0.05, stdout=StringIO())
    assert Enterprise.objects.count() == count

    out = StringIO()
    call_command("demo_logins", stdout=out)
    table = out.getvalue()
    for username in ("sheng", "changbaishan", "faw-admin", "carrier-admin", "operator-admin"):
        assert username in table
    assert DEMO_PASSWORD in table and "/dashboard/" in table and "/enterprise/" in table and "演示" in table


@pytest.mark.django_db
def test_demo_data_refuses_without_reference_data(regions: list[demo.RegionRef]) -> None:
    CatalogueVersion.objects.all().delete()  # rolled back with the test
    with pytest.raises(CommandError, match="load-reference"):
        call_command("demo_data", stdout=StringIO())


@pytest.mark.django_db
def test_demo_logins_refuses_before_demo_data(regions: list[demo.RegionRef]) -> None:
    with pytest.raises(CommandError, match="demo-data"):
        call_command("demo_logins", stdout=StringIO())


def test_scale_must_be_positive(regions: list[demo.RegionRef]) -> None:
    from weifei.core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="规模系数"):
        _plan(regions, scale=0)
