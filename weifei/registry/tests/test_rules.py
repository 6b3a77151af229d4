"""HJ 1259—2022 management classes and licence rules (许可办法), as pure functions and through
the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from weifei.core.actors import SYSTEM
from weifei.core.errors import ApplicationError
from weifei.core.models import Event
from weifei.registry import rules
from weifei.registry.models import Licence, LicenceVersion, ManagementClass
from weifei.registry.services import (
    ScopeIn,
    facility_create,
    generation_profile_set,
    licence_change,
    licence_create,
    licence_set_status,
    site_class_refresh,
    site_create,
)
from weifei.registry.tests.factories import EnterpriseFactory, OperatorFactory

TODAY = dt.date(2026, 6, 1)
D = Decimal


def facts(
    yearly: dict[int, int],
    *,
    started: dt.date | None = dt.date(2010, 1, 1),
    eia: int | None = None,
    permit: int | None = None,
    treatment: bool = False,
    licence: bool = False,
) -> rules.SiteFacts:
    return rules.SiteFacts(
        yearly_tonnes={y: D(t) for y, t in yearly.items()},
        operation_started_on=started,
        eia_annual_tonnes=D(eia) if eia is not None else None,
        permit_annual_tonnes=D(permit) if permit is not None else None,
        has_own_treatment=treatment,
        holds_licence=licence,
    )


class TestManagementClass:
    def test_100_tonnes_or_more_is_key(self) -> None:
        assert rules.management_class(facts({2025: 100}), today=TODAY).management_class == ManagementClass.KEY
        assert rules.management_class(facts({2025: 99}), today=TODAY).management_class == ManagementClass.SIMPLIFIED

    def test_10_to_100_tonnes_is_simplified_and_below_is_registered(self) -> None:
        assert rules.management_class(facts({2025: 10}), today=TODAY).management_class == ManagementClass.SIMPLIFIED
        result = rules.management_class(facts({2025: D("9.999")}), today=TODAY)  # type: ignore[dict-item]
        assert result.management_class == ManagementClass.REGISTERED

    def test_own_treatment_facilities_make_a_small_unit_key(self) -> None:
        result = rules.management_class(facts({2025: 1}, treatment=True), today=TODAY)
        assert result.management_class == ManagementClass.KEY and "利用处置设施" in result.basis

    def test_a_licence_makes_a_unit_key(self) -> None:
        result = rules.management_class(facts({}, licence=True, started=None), today=TODAY)
        assert result.management_class == ManagementClass.KEY and "许可证" in result.basis

    def test_three_year_maximum_for_units_operating_three_years(self) -> None:
        # 2023: 120 t, 2024: 5 t, 2025: 8 t → the maximum of the last three years is 120 t → key.
        result = rules.management_class(facts({2022: 500, 2023: 120, 2024: 5, 2025: 8}), today=TODAY)
        assert result.management_class == ManagementClass.KEY and result.annual_tonnes == D(120)
        assert "2023–2025" in result.basis
        # 2022 is outside the window: 500 t four years ago does not count.
        assert rules.management_class(facts({2022: 500, 2025: 8}), today=TODAY).annual_tonnes == D(8)

    def test_units_operating_one_to_three_years_use_the_maximum_since_start(self) -> None:
        result = rules.management_class(facts({2024: 40, 2025: 12}, started=dt.date(2024, 3, 1)), today=TODAY)
        assert result.management_class == ManagementClass.SIMPLIFIED and result.annual_tonnes == D(40)
        assert "投运以来" in result.basis

    def test_new_units_use_the_larger_of_eia_and_permit_figures(self) -> None:
        new = facts({}, started=dt.date(2026, 1, 1), eia=80, permit=150)
        result = rules.management_class(new, today=TODAY)
        assert result.management_class == ManagementClass.KEY and result.annual_tonnes == D(150)
        assert "环评" in result.basis
        assert rules.management_class(facts({}, started=None, eia=12), today=TODAY).management_class == "simplified"
        assert rules.management_class(facts({}, started=None), today=TODAY).management_class == "registered"


@pytest.mark.usefixtures("reference")
class TestManagementClassThroughServices:
    def test_site_class_follows_generation_and_facilities(self) -> None:
        unit = EnterpriseFactory()
        site = site_create(
            actor=SYSTEM,
            enterprise=unit,
            name="一厂",
            address="长春市南关区测试路1号",
            region_key="220102",
            roles=["generator"],
            operation_started_on=dt.date(2015, 1, 1),
        )
        assert site.management_class == ManagementClass.REGISTERED
        for year, tonnes in ((2023, 30), (2024, 5), (2025, 2)):
            generation_profile_set(
                actor=SYSTEM, enterprise=unit, site=site, year=year, waste_code="900-249-08", annual_tonnes=D(tonnes)
            )
        site = site_class_refresh(actor=SYSTEM, site_id=site.id, today=TODAY)
        assert site.management_class == ManagementClass.SIMPLIFIED and "30" in site.management_class_basis
        facility_create(actor=SYSTEM, site=site, kind="disposal", name="焚烧炉", design_capacity_tonnes=D(500))
        site.refresh_from_db()
        assert site.management_class == ManagementClass.KEY
        assert Event.objects.filter(kind="registry.site_class_computed", subject_id=str(site.id)).count() >= 2


class TestLicenceRules:
    def test_validity_is_five_years_comprehensive_three_years_collection(self) -> None:
        assert rules.licence_valid_to("comprehensive", dt.date(2026, 3, 15)) == dt.date(2031, 3, 14)
        assert rules.licence_valid_to("collection", dt.date(2026, 3, 15)) == dt.date(2029, 3, 14)
        assert rules.licence_valid_to("comprehensive", dt.date(2024, 2, 29)) == dt.date(2029, 2, 28)

    def test_status_changes_with_time(self) -> None:
        args = {"stored_status": "valid", "valid_from": dt.date(2026, 1, 1), "valid_to": dt.date(2030, 12, 31)}
        assert rules.licence_status_on(**args, on=dt.date(2025, 12, 31)) == "not_yet_valid"
        assert rules.licence_status_on(**args, on=dt.date(2026, 1, 1)) == "valid"
        assert rules.licence_status_on(**args, on=dt.date(2030, 12, 31)) == "valid"
        assert rules.licence_status_on(**args, on=dt.date(2031, 1, 1)) == "expired"
        assert rules.licence_status_on(**{**args, "stored_status": "suspended"}, on=dt.date(2027, 1, 1)) == "suspended"

    def test_issuing_level(self) -> None:
        assert rules.issuing_level_for("collection", {"HW08"}) == "county"
        assert rules.issuing_level_for("comprehensive", {"HW01"}) == "prefecture"
        assert rules.issuing_level_for("comprehensive", {"HW01", "HW49"}) == "province"


@pytest.mark.usefixtures("reference")
class TestLicencesThroughServices:
    def base(self, **kw: object) -> dict[str, object]:
        return {
            "holder": OperatorFactory(),
            "number": "吉危许0001",
            "kind": "comprehensive",
            "methods": ["storage", "disposal"],
            "annual_capacity_tonnes": D(20000),
            "valid_from": dt.date(2026, 1, 1),
            **kw,
        }

    def test_scope_by_category_and_by_code_with_an_aggregate_scale(self) -> None:
        lic = licence_create(
            actor=SYSTEM,
            **self.base(  # type: ignore[arg-type]
                scopes=[
                    ScopeIn("HW08", D(5000)),
                    ScopeIn("HW49", D(3000)),
                    ScopeIn("900-041-49", D(800), "焚烧线"),
                    ScopeIn("772-002-18", D(1200), "焚烧线"),
                ],
                aggregates={"焚烧线": D(1500)},
            ),
        )
        scopes = {(s.category, s.waste_code): s for s in lic.scopes.select_related("aggregate")}
        assert scopes[("HW08", "")].annual_tonnes == D(5000)
        assert scopes[("HW49", "900-041-49")].aggregate.name == "焚烧线"  # type: ignore[union-attr]
        assert lic.aggregates.get().annual_tonnes == D(1500)
        assert lic.issuing_level == "province" and lic.valid_to == dt.date(2030, 12, 31)
        assert LicenceVersion.objects.get(licence=lic, version=1).snapshot["aggregates"] == {"焚烧线": "1500.000"}

    def test_unknown_codes_and_undefined_aggregates_are_refused(self) -> None:
        with pytest.raises(ApplicationError) as exc:
            licence_create(actor=SYSTEM, **self.base(scopes=[ScopeIn("900-998-49", D(1))]))  # type: ignore[arg-type]
        assert exc.value.field == "scopes[0]" and exc.value.code == "waste_code_not_listed"
        with pytest.raises(ApplicationError) as exc:
            licence_create(actor=SYSTEM, **self.base(scopes=[ScopeIn("HW08", D(1), "无此线")]))  # type: ignore[arg-type]
        assert exc.value.code == "aggregate_unknown"
        assert Licence.objects.count() == 0

    def test_collection_licences_cover_only_vehicle_oil_and_household_batteries(self) -> None:
        collector = EnterpriseFactory(roles=("is_collector",))
        for item in ("HW08", "900-249-08", "HW49"):
            with pytest.raises(ApplicationError) as exc:
                licence_create(
                    actor=SYSTEM,
                    **self.base(
                        holder=collector,
                        kind="collection",  # type: ignore[arg-type]
                        scopes=[ScopeIn(item, D(100))],
                    ),
                )
            assert exc.value.code == "collection_scope" and "第三条" in exc.value.message
        lic = licence_create(
            actor=SYSTEM,
            **self.base(
                holder=collector,
                kind="collection",  # type: ignore[arg-type]
                scopes=[ScopeIn("900-214-08", D(100)), ScopeIn("900-044-49", D(20))],
            ),
        )
        assert lic.issuing_level == "county" and lic.valid_to == dt.date(2028, 12, 31)

    def test_changes_are_versions_and_revocation_is_final(self) -> None:
        lic = licence_create(actor=SYSTEM, **self.base(categories=["HW08"]))  # type: ignore[arg-type]
        licence_change(
            actor=SYSTEM,
            licence_id=lic.id,
            reason="扩大规模",
            annual_capacity_tonnes=D(24000),
            scopes=[ScopeIn("HW08", D(6000)), ScopeIn("HW49", D(2000))],
        )
        lic.refresh_from_db()
        assert lic.version == 2 and lic.annual_capacity_tonnes == D(24000)
        assert [v.version for v in lic.versions.all()] == [1, 2]
        assert lic.versions.get(version=1).snapshot["annual_capacity_tonnes"] == "20000.000"
        licence_set_status(actor=SYSTEM, licence_id=lic.id, status="suspended", reason="整改")
        licence_set_status(actor=SYSTEM, licence_id=lic.id, status="revoked", reason="违法")
        with pytest.raises(ApplicationError) as exc:
            licence_set_status(actor=SYSTEM, licence_id=lic.id, status="valid", reason="恢复")
        assert exc.value.code == "licence_revoked"


@pytest.mark.usefixtures("reference")
def test_issuing_and_revoking_a_licence_recomputes_the_operator_site_class() -> None:
    holder = OperatorFactory()
    site = site_create(
        actor=SYSTEM,
        enterprise=holder,
        name="处置中心",
        address="昌邑区测试路9号",
        region_key="220102",
        roles=["operator"],
    )
    assert site.management_class == ManagementClass.REGISTERED
    lic = licence_create(
        actor=SYSTEM,
        holder=holder,
        number="吉危许R1",
        kind="comprehensive",
        methods=["disposal"],
        annual_capacity_tonnes=D(100),
        valid_from=dt.date.today(),
        categories=["HW08"],
    )
    site.refresh_from_db()
    assert site.management_class == ManagementClass.KEY and "许可证" in site.management_class_basis
    licence_set_status(actor=SYSTEM, licence_id=lic.id, status="revoked", reason="违法经营")
    site.refresh_from_db()
    assert site.management_class == ManagementClass.REGISTERED
