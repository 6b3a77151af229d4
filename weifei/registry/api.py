"""Registry API: enterprises, sites, facilities, licences, carriers, contracts and filings.

Reads go through the actor-scoped selectors; writes through the services. Lists take
``limit``/``offset`` (at most 500 a page) and answer ``{"total": n, "items": [...]}``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from weifei.accounts.auth import ACTOR_AUTH, request_actor
from weifei.core.actors import Actor
from weifei.core.errors import NotFound, Unauthenticated

from . import selectors, services
from .registration import enterprise_self_register

# Every registry operation needs a caller (API token or session); self-registration is public.
router = Router(tags=["registry"], auth=ACTOR_AUTH)


def _actor(request: HttpRequest, *, login: bool = False) -> Actor:
    actor = request_actor(request)
    if login and actor.is_public:
        raise Unauthenticated()
    return actor


class Page(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


def _page(qs: Any, page: Page, out: Any) -> dict[str, Any]:
    return {"total": qs.count(), "items": [out(x) for x in qs[page.offset : page.offset + page.limit]]}


# ---- schemas -------------------------------------------------------------------------------


class EnterpriseOut(Schema):
    id: int
    credit_code: str
    name: str
    region: str
    region_name: str
    industry_code: str
    industry_name: str
    roles: list[str]
    verification: str
    latitude: Decimal | None
    longitude: Decimal | None


def enterprise_out(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "credit_code": e.credit_code,
        "name": e.name,
        "region": e.region.key,
        "region_name": e.region.name,
        "industry_code": e.industry_code,
        "industry_name": e.industry_name,
        "roles": [r for r in services.ROLE_FIELDS if getattr(e, r)],
        "verification": e.verification,
        "latitude": e.latitude,
        "longitude": e.longitude,
    }


class EnterpriseList(Schema):
    total: int
    items: list[EnterpriseOut]


class EnterpriseFilters(Page):
    q: str = Field("", max_length=50)
    region: str = Field("", max_length=40)
    role: str = Field("", max_length=20)
    verification: str = Field("", max_length=10)
    management_class: str = Field("", max_length=12)


class EnterpriseIn(Schema):
    credit_code: str = Field(..., max_length=30)
    name: str = Field(..., max_length=200)
    region: str = Field(..., max_length=40)
    roles: list[str] = Field(default_factory=lambda: ["is_generator"], max_length=4)
    industry_code: str = Field("", max_length=5)
    industry_name: str = Field("", max_length=100)
    legal_representative: str = Field("", max_length=50)
    address: str = Field("", max_length=300)
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=30)
    contact_email: str = Field("", max_length=254)
    latitude: Decimal | None = Field(None, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, max_digits=9, decimal_places=6)


class RegistrationIn(EnterpriseIn):
    username: str = Field(..., max_length=50)
    password: str = Field(..., max_length=128)
    full_name: str = Field(..., max_length=50)


class EnterprisePatch(Schema):
    name: str | None = Field(None, max_length=200)
    legal_representative: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=300)
    industry_code: str | None = Field(None, max_length=5)
    industry_name: str | None = Field(None, max_length=100)
    contact_name: str | None = Field(None, max_length=50)
    contact_phone: str | None = Field(None, max_length=30)
    contact_email: str | None = Field(None, max_length=254)
    reason: str = Field("", max_length=500)


class DecisionIn(Schema):
    approve: bool
    note: str = Field("", max_length=500)


class SiteOut(Schema):
    id: int
    enterprise_id: int
    name: str
    address: str
    region: str
    roles: list[str]
    status: str
    management_class: str
    management_class_computed: str
    management_class_basis: str
    management_class_override_reason: str
    latitude: Decimal | None
    longitude: Decimal | None


def site_out(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "enterprise_id": s.enterprise_id,
        "name": s.name,
        "address": s.address,
        "region": s.region.key,
        "roles": s.roles,
        "status": s.status,
        "management_class": s.management_class,
        "management_class_computed": s.management_class_computed,
        "management_class_basis": s.management_class_basis,
        "management_class_override_reason": s.management_class_override_reason,
        "latitude": s.latitude,
        "longitude": s.longitude,
    }


class SiteList(Schema):
    total: int
    items: list[SiteOut]


class SiteIn(Schema):
    name: str = Field(..., max_length=200)
    address: str = Field(..., max_length=300)
    region: str = Field(..., max_length=40)
    roles: list[str] = Field(..., max_length=4)
    latitude: Decimal | None = Field(None, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, max_digits=9, decimal_places=6)
    industry_code: str = Field("", max_length=5)
    industry_name: str = Field("", max_length=100)
    operation_started_on: dt.date | None = None
    eia_annual_tonnes: Decimal | None = Field(None, max_digits=14, decimal_places=3)
    permit_annual_tonnes: Decimal | None = Field(None, max_digits=14, decimal_places=3)


class SiteStatusIn(Schema):
    status: str = Field(..., max_length=10)
    suspended_from: dt.date | None = None
    suspended_until: dt.date | None = None
    closed_on: dt.date | None = None
    reason: str = Field("", max_length=500)


class ClassOverrideIn(Schema):
    management_class: str | None = Field(None, max_length=12)
    reason: str = Field(..., max_length=500)


class FacilityIn(Schema):
    kind: str = Field(..., max_length=12)
    name: str = Field(..., max_length=200)
    design_capacity_tonnes: Decimal | None = Field(None, max_digits=14, decimal_places=3)
    storage_capacity_tonnes: Decimal | None = Field(None, max_digits=14, decimal_places=3)


class FacilityOut(Schema):
    id: int
    site_id: int
    code: str
    kind: str
    name: str
    design_capacity_tonnes: Decimal | None
    storage_capacity_tonnes: Decimal | None


class ScopeSchema(Schema):
    item: str = Field(..., max_length=10, description="类别（HW08）或废物代码（900-214-08）")
    annual_tonnes: Decimal = Field(..., max_digits=14, decimal_places=3)
    aggregate: str = Field("", max_length=100)


class LicenceIn(Schema):
    holder_id: int
    number: str = Field(..., max_length=40)
    kind: str = Field(..., max_length=16)
    methods: list[str] = Field(..., max_length=4)
    annual_capacity_tonnes: Decimal = Field(..., max_digits=14, decimal_places=3)
    valid_from: dt.date
    scopes: list[ScopeSchema] = Field(..., max_length=500)
    aggregates: dict[str, Decimal] = Field(default_factory=dict)
    facility_addresses: str = Field("", max_length=1000)


class LicenceChangeIn(Schema):
    reason: str = Field(..., max_length=500)
    annual_capacity_tonnes: Decimal | None = Field(None, max_digits=14, decimal_places=3)
    methods: list[str] | None = None
    scopes: list[ScopeSchema] | None = None
    aggregates: dict[str, Decimal] | None = None


class LicenceStatusIn(Schema):
    status: str = Field(..., max_length=10)
    reason: str = Field(..., max_length=500)


class LicenceOut(Schema):
    id: int
    holder_id: int
    holder_name: str
    number: str
    kind: str
    issuing_level: str
    methods: list[str]
    annual_capacity_tonnes: Decimal
    valid_from: dt.date
    valid_to: dt.date
    status: str
    status_today: str
    version: int
    scopes: list[dict[str, Any]]
    aggregates: dict[str, Decimal]


def licence_out(lic: Any) -> dict[str, Any]:
    from .rules import licence_status_on

    return {
        "id": lic.id,
        "holder_id": lic.holder_id,
        "holder_name": lic.holder.name,
        "number": lic.number,
        "kind": lic.kind,
        "issuing_level": lic.issuing_level,
        "methods": lic.methods,
        "annual_capacity_tonnes": lic.annual_capacity_tonnes,
        "valid_from": lic.valid_from,
        "valid_to": lic.valid_to,
        "status": lic.status,
        "version": lic.version,
        "status_today": licence_status_on(
            stored_status=lic.status, valid_from=lic.valid_from, valid_to=lic.valid_to, on=dt.date.today()
        ),
        "scopes": [
            {
                "category": s.category,
                "waste_code": s.waste_code,
                "annual_tonnes": str(s.annual_tonnes),
                "aggregate": next((a.name for a in lic.aggregates.all() if a.id == s.aggregate_id), ""),
            }
            for s in lic.scopes.all()
        ],
        "aggregates": {a.name: a.annual_tonnes for a in lic.aggregates.all()},
    }


class LicenceList(Schema):
    total: int
    items: list[LicenceOut]


class VehicleIn(Schema):
    carrier_id: int
    plate: str = Field(..., max_length=12)
    transport_certificate: str = Field(..., max_length=30)
    payload_tonnes: Decimal = Field(..., max_digits=8, decimal_places=3)
    valid_until: dt.date
    inspection_valid_until: dt.date | None = None
    dangerous_goods_classes: list[str] = Field(default_factory=lambda: ["9"], max_length=9)
    gps_terminal_id: str = Field("", max_length=30)


class VehicleOut(Schema):
    id: int
    carrier_id: int
    plate: str
    transport_certificate: str
    payload_tonnes: Decimal
    valid_until: dt.date
    inspection_valid_until: dt.date | None
    dangerous_goods_classes: list[str]
    gps_terminal_id: str
    registration: str


class VehicleList(Schema):
    total: int
    items: list[VehicleOut]


class DriverIn(Schema):
    carrier_id: int
    name: str = Field(..., max_length=50)
    role: str = Field(..., max_length=10)
    certificate_number: str = Field(..., max_length=40)
    certificate_valid_until: dt.date
    phone: str = Field("", max_length=30)


class DriverOut(Schema):
    id: int
    carrier_id: int
    name: str
    role: str
    certificate_number: str
    certificate_valid_until: dt.date


class RoadLicenceIn(Schema):
    carrier_id: int
    number: str = Field(..., max_length=40)
    scope: str = Field(..., max_length=200)
    valid_from: dt.date
    valid_to: dt.date


class RoadLicenceOut(Schema):
    id: int
    carrier_id: int
    number: str
    scope: str
    valid_from: dt.date
    valid_to: dt.date


class ContractIn(Schema):
    kind: str = Field(..., max_length=10)
    number: str = Field(..., max_length=60)
    party_a_id: int
    party_b_id: int
    waste_codes: list[str] = Field(..., max_length=200)
    planned_tonnes: Decimal = Field(..., max_digits=14, decimal_places=3)
    valid_from: dt.date
    valid_to: dt.date


class ContractOut(Schema):
    id: int
    kind: str
    number: str
    party_a_id: int
    party_b_id: int
    waste_codes: list[str]
    planned_tonnes: Decimal
    valid_from: dt.date
    valid_to: dt.date


class ExpectedWaste(Schema):
    waste_code: str = Field(..., max_length=10)
    annual_tonnes: Decimal = Field(..., max_digits=14, decimal_places=3)
    destination: str = Field("", max_length=200)


class EIAIn(Schema):
    enterprise_id: int
    site_id: int | None = None
    project: str = Field(..., max_length=200)
    approval_number: str = Field(..., max_length=80)
    approved_on: dt.date
    authority: str = Field(..., max_length=100)
    expected_wastes: list[ExpectedWaste] = Field(default_factory=list, max_length=200)


class EIAOut(Schema):
    id: int
    enterprise_id: int
    site_id: int | None
    project: str
    approval_number: str
    approved_on: dt.date
    authority: str
    expected_wastes: list[dict[str, Any]]


class InsuranceIn(Schema):
    enterprise_id: int
    insurer: str = Field(..., max_length=100)
    policy_number: str = Field(..., max_length=60)
    coverage_yuan: Decimal = Field(..., max_digits=16, decimal_places=2)
    valid_from: dt.date
    valid_to: dt.date


class InsuranceOut(Schema):
    id: int
    enterprise_id: int
    insurer: str
    policy_number: str
    coverage_yuan: Decimal
    valid_from: dt.date
    valid_to: dt.date


class EmergencyPlanIn(Schema):
    enterprise_id: int
    site_id: int | None = None
    filing_number: str = Field(..., max_length=60)
    filed_on: dt.date
    authority: str = Field(..., max_length=100)
    valid_until: dt.date | None = None


class EmergencyPlanOut(Schema):
    id: int
    enterprise_id: int
    site_id: int | None
    filing_number: str
    filed_on: dt.date
    authority: str
    valid_until: dt.date | None


class MapPoint(Schema):
    site_id: int
    enterprise_id: int
    name: str
    latitude: Decimal
    longitude: Decimal
    management_class: str
    roles: list[str]


# ---- enterprises ---------------------------------------------------------------------------


@router.get("/enterprises", response=EnterpriseList)
def enterprise_list(request: HttpRequest, filters: Query[EnterpriseFilters]) -> dict[str, Any]:
    """The registry the caller may see (a regulator: its jurisdiction; a unit: itself)."""
    qs = selectors.enterprise_list(
        actor=_actor(request, login=True),
        q=filters.q,
        region_key=filters.region,
        role=filters.role,
        verification=filters.verification,
        management_class=filters.management_class,
    )
    return _page(qs, filters, enterprise_out)


@router.post("/enterprises", response={201: EnterpriseOut})
def enterprise_create(request: HttpRequest, payload: EnterpriseIn) -> Status[Any]:
    e = services.enterprise_create(
        actor=_actor(request, login=True),
        credit_code=payload.credit_code,
        name=payload.name,
        region_key=payload.region,
        roles=tuple(payload.roles),
        industry_code=payload.industry_code,
        industry_name=payload.industry_name,
        legal_representative=payload.legal_representative,
        address=payload.address,
        contact_name=payload.contact_name,
        contact_phone=payload.contact_phone,
        contact_email=payload.contact_email,
        latitude=payload.latitude,
        longitude=payload.longitude,
    )
    return Status(201, enterprise_out(e))


@router.post("/register", response={201: EnterpriseOut}, tags=["registry", "public"], auth=None)
def register(request: HttpRequest, payload: RegistrationIn) -> Status[Any]:
    """Self-registration: creates the account and the unit, which waits for verification."""
    _, e = enterprise_self_register(
        username=payload.username,
        password=payload.password,
        full_name=payload.full_name,
        credit_code=payload.credit_code,
        name=payload.name,
        region_key=payload.region,
        roles=tuple(payload.roles),
        address=payload.address,
        legal_representative=payload.legal_representative,
        contact_phone=payload.contact_phone,
        contact_email=payload.contact_email,
        industry_code=payload.industry_code,
        industry_name=payload.industry_name,
        latitude=payload.latitude,
        longitude=payload.longitude,
    )
    return Status(201, enterprise_out(e))


@router.get("/enterprises/{enterprise_id}", response=EnterpriseOut)
def enterprise_detail(request: HttpRequest, enterprise_id: int) -> dict[str, Any]:
    return enterprise_out(selectors.enterprise_get(actor=_actor(request, login=True), enterprise_id=enterprise_id))


@router.patch("/enterprises/{enterprise_id}", response=EnterpriseOut)
def enterprise_update(request: HttpRequest, enterprise_id: int, payload: EnterprisePatch) -> dict[str, Any]:
    actor = _actor(request, login=True)
    selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    changes = payload.dict(exclude_none=True)
    reason = changes.pop("reason", "")
    return enterprise_out(
        services.enterprise_update(actor=actor, enterprise_id=enterprise_id, reason=reason, **changes)
    )


@router.get("/verification-queue", response=EnterpriseList)
def verification_queue(request: HttpRequest, page: Query[Page]) -> dict[str, Any]:
    return _page(selectors.verification_queue(actor=_actor(request, login=True)), page, enterprise_out)


@router.post("/enterprises/{enterprise_id}/verify", response=EnterpriseOut)
def enterprise_verify(request: HttpRequest, enterprise_id: int, payload: DecisionIn) -> dict[str, Any]:
    actor = _actor(request, login=True)
    selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    return enterprise_out(
        services.enterprise_verify(actor=actor, enterprise_id=enterprise_id, approve=payload.approve, note=payload.note)
    )


# ---- sites and facilities ------------------------------------------------------------------


@router.get("/sites", response=SiteList)
def site_list(request: HttpRequest, page: Query[Page], enterprise_id: int | None = None) -> dict[str, Any]:
    qs = selectors.sites_visible(actor=_actor(request, login=True))
    if enterprise_id is not None:
        qs = qs.filter(enterprise_id=enterprise_id)
    return _page(qs.order_by("id"), page, site_out)


@router.post("/enterprises/{enterprise_id}/sites", response={201: SiteOut})
def site_create(request: HttpRequest, enterprise_id: int, payload: SiteIn) -> Status[Any]:
    actor = _actor(request, login=True)
    enterprise = selectors.enterprise_get(actor=actor, enterprise_id=enterprise_id)
    site = services.site_create(
        actor=actor,
        enterprise=enterprise,
        name=payload.name,
        address=payload.address,
        region_key=payload.region,
        roles=payload.roles,
        latitude=payload.latitude,
        longitude=payload.longitude,
        industry_code=payload.industry_code,
        industry_name=payload.industry_name,
        operation_started_on=payload.operation_started_on,
        eia_annual_tonnes=payload.eia_annual_tonnes,
        permit_annual_tonnes=payload.permit_annual_tonnes,
    )
    return Status(201, site_out(site))


@router.get("/sites/{site_id}", response=SiteOut)
def site_detail(request: HttpRequest, site_id: int) -> dict[str, Any]:
    return site_out(selectors.site_get(actor=_actor(request, login=True), site_id=site_id))


@router.post("/sites/{site_id}/status", response=SiteOut)
def site_status(request: HttpRequest, site_id: int, payload: SiteStatusIn) -> dict[str, Any]:
    actor = _actor(request, login=True)
    selectors.site_get(actor=actor, site_id=site_id)
    return site_out(services.site_set_status(actor=actor, site_id=site_id, **payload.dict()))


@router.post("/sites/{site_id}/class-override", response=SiteOut)
def site_class_override(request: HttpRequest, site_id: int, payload: ClassOverrideIn) -> dict[str, Any]:
    actor = _actor(request, login=True)
    selectors.site_get(actor=actor, site_id=site_id)
    return site_out(
        services.site_class_override(
            actor=actor, site_id=site_id, management_class=payload.management_class, reason=payload.reason
        )
    )


@router.get("/facilities", response=list[FacilityOut])
def facility_list(request: HttpRequest, site_id: int) -> list[Any]:
    return list(selectors.facilities_visible(actor=_actor(request, login=True)).filter(site_id=site_id))


@router.post("/sites/{site_id}/facilities", response={201: FacilityOut})
def facility_create(request: HttpRequest, site_id: int, payload: FacilityIn) -> Status[Any]:
    actor = _actor(request, login=True)
    site = selectors.site_get(actor=actor, site_id=site_id)
    return Status(201, services.facility_create(actor=actor, site=site, **payload.dict()))


# ---- licences ------------------------------------------------------------------------------


def _scopes(items: list[ScopeSchema] | None) -> list[services.ScopeIn] | None:
    if items is None:
        return None
    return [services.ScopeIn(s.item, s.annual_tonnes, s.aggregate) for s in items]


@router.get("/licences", response=LicenceList)
def licence_list(request: HttpRequest, page: Query[Page], holder_id: int | None = None) -> dict[str, Any]:
    qs = selectors.licences_visible(actor=_actor(request, login=True))
    if holder_id is not None:
        qs = qs.filter(holder_id=holder_id)
    return _page(qs.order_by("number"), page, licence_out)


@router.post("/licences", response={201: LicenceOut})
def licence_create(request: HttpRequest, payload: LicenceIn) -> Status[Any]:
    actor = _actor(request, login=True)
    holder = selectors.enterprise_get(actor=actor, enterprise_id=payload.holder_id)
    lic = services.licence_create(
        actor=actor,
        holder=holder,
        number=payload.number,
        kind=payload.kind,
        methods=payload.methods,
        annual_capacity_tonnes=payload.annual_capacity_tonnes,
        valid_from=payload.valid_from,
        scopes=_scopes(payload.scopes),
        aggregates=payload.aggregates,
        facility_addresses=payload.facility_addresses,
    )
    return Status(201, licence_out(lic))


@router.get("/licences/{licence_id}", response=LicenceOut)
def licence_detail(request: HttpRequest, licence_id: int) -> dict[str, Any]:
    return licence_out(selectors.licence_get(actor=_actor(request, login=True), licence_id=licence_id))


@router.post("/licences/{licence_id}/change", response=LicenceOut)
def licence_change(request: HttpRequest, licence_id: int, payload: LicenceChangeIn) -> dict[str, Any]:
    actor = _actor(request, login=True)
    selectors.licence_get(actor=actor, licence_id=licence_id)
    services.licence_change(
        actor=actor,
        licence_id=licence_id,
        reason=payload.reason,
        annual_capacity_tonnes=payload.annual_capacity_tonnes,
        methods=payload.methods,
        scopes=_scopes(payload.scopes),
        aggregates=payload.aggregates,
    )
    return licence_out(selectors.licence_get(actor=actor, licence_id=licence_id))


@router.post("/licences/{licence_id}/status", response=LicenceOut)
def licence_status(request: HttpRequest, licence_id: int, payload: LicenceStatusIn) -> dict[str, Any]:
    actor = _actor(request, login=True)
    selectors.licence_get(actor=actor, licence_id=licence_id)
    services.licence_set_status(actor=actor, licence_id=licence_id, status=payload.status, reason=payload.reason)
    return licence_out(selectors.licence_get(actor=actor, licence_id=licence_id))


# ---- carriers ------------------------------------------------------------------------------


@router.get("/vehicles", response=VehicleList)
def vehicle_list(request: HttpRequest, page: Query[Page], carrier_id: int | None = None) -> dict[str, Any]:
    qs = selectors.vehicles_visible(actor=_actor(request, login=True))
    if carrier_id is not None:
        qs = qs.filter(carrier_id=carrier_id)
    return _page(qs.order_by("plate"), page, lambda v: v)


@router.post("/vehicles", response={201: VehicleOut})
def vehicle_create(request: HttpRequest, payload: VehicleIn) -> Status[Any]:
    actor = _actor(request, login=True)
    carrier = selectors.enterprise_get(actor=actor, enterprise_id=payload.carrier_id)
    data = payload.dict()
    data.pop("carrier_id")
    return Status(201, services.vehicle_create(actor=actor, carrier=carrier, **data))


@router.get("/vehicle-registrations", response=VehicleList)
def vehicle_registration_queue(request: HttpRequest, page: Query[Page]) -> dict[str, Any]:
    return _page(selectors.vehicle_registration_queue(actor=_actor(request, login=True)), page, lambda v: v)


@router.post("/vehicles/{vehicle_id}/registration", response=VehicleOut)
def vehicle_registration(request: HttpRequest, vehicle_id: int, payload: DecisionIn) -> Any:
    actor = _actor(request, login=True)
    if not selectors.vehicles_visible(actor=actor).filter(id=vehicle_id).exists():
        raise NotFound("车辆不存在或无权查看", field="vehicle")
    return services.vehicle_registration_decide(
        actor=actor, vehicle_id=vehicle_id, approve=payload.approve, note=payload.note
    )


@router.get("/drivers", response=list[DriverOut])
def driver_list(request: HttpRequest, carrier_id: int) -> list[Any]:
    return list(selectors.drivers_visible(actor=_actor(request, login=True)).filter(carrier_id=carrier_id)[:500])


@router.post("/drivers", response={201: DriverOut})
def driver_create(request: HttpRequest, payload: DriverIn) -> Status[Any]:
    actor = _actor(request, login=True)
    carrier = selectors.enterprise_get(actor=actor, enterprise_id=payload.carrier_id)
    data = payload.dict()
    data.pop("carrier_id")
    return Status(201, services.driver_create(actor=actor, carrier=carrier, **data))


@router.get("/road-licences", response=list[RoadLicenceOut])
def road_licence_list(request: HttpRequest, carrier_id: int) -> list[Any]:
    return list(selectors.road_licences_visible(actor=_actor(request, login=True)).filter(carrier_id=carrier_id))


@router.post("/road-licences", response={201: RoadLicenceOut})
def road_licence_create(request: HttpRequest, payload: RoadLicenceIn) -> Status[Any]:
    actor = _actor(request, login=True)
    carrier = selectors.enterprise_get(actor=actor, enterprise_id=payload.carrier_id)
    data = payload.dict()
    data.pop("carrier_id")
    return Status(201, services.road_licence_create(actor=actor, carrier=carrier, **data))


# ---- contracts and filings -----------------------------------------------------------------


@router.get("/contracts", response=list[ContractOut])
def contract_list(request: HttpRequest, enterprise_id: int) -> list[Any]:
    qs = selectors.contracts_visible(actor=_actor(request, login=True))
    return list(qs.filter(party_a_id=enterprise_id) | qs.filter(party_b_id=enterprise_id))[:500]


@router.post("/contracts", response={201: ContractOut})
def contract_create(request: HttpRequest, payload: ContractIn) -> Status[Any]:
    actor = _actor(request, login=True)
    party_a = selectors.enterprise_get(actor=actor, enterprise_id=payload.party_a_id)
    party_b = selectors.counterparty_get(actor=actor, enterprise_id=payload.party_b_id)
    return Status(
        201,
        services.contract_create(
            actor=actor,
            kind=payload.kind,
            number=payload.number,
            party_a=party_a,
            party_b=party_b,
            waste_codes=payload.waste_codes,
            planned_tonnes=payload.planned_tonnes,
            valid_from=payload.valid_from,
            valid_to=payload.valid_to,
        ),
    )


def _site_of(actor: Actor, site_id: int | None) -> Any:
    # The service checks that the site belongs to the enterprise.
    return None if site_id is None else selectors.site_get(actor=actor, site_id=site_id)


@router.get("/eia-approvals", response=list[EIAOut])
def eia_list(request: HttpRequest, enterprise_id: int) -> list[Any]:
    return list(selectors.eia_approvals_visible(actor=_actor(request, login=True)).filter(enterprise_id=enterprise_id))


@router.post("/eia-approvals", response={201: EIAOut})
def eia_create(request: HttpRequest, payload: EIAIn) -> Status[Any]:
    actor = _actor(request, login=True)
    enterprise = selectors.enterprise_get(actor=actor, enterprise_id=payload.enterprise_id)
    return Status(
        201,
        services.eia_approval_create(
            actor=actor,
            enterprise=enterprise,
            site=_site_of(actor, payload.site_id),
            project=payload.project,
            approval_number=payload.approval_number,
            approved_on=payload.approved_on,
            authority=payload.authority,
            expected_wastes=[w.dict() for w in payload.expected_wastes],
        ),
    )


@router.get("/insurances", response=list[InsuranceOut])
def insurance_list(request: HttpRequest, enterprise_id: int) -> list[Any]:
    return list(selectors.insurances_visible(actor=_actor(request, login=True)).filter(enterprise_id=enterprise_id))


@router.post("/insurances", response={201: InsuranceOut})
def insurance_create(request: HttpRequest, payload: InsuranceIn) -> Status[Any]:
    actor = _actor(request, login=True)
    enterprise = selectors.enterprise_get(actor=actor, enterprise_id=payload.enterprise_id)
    data = payload.dict()
    data.pop("enterprise_id")
    return Status(201, services.insurance_create(actor=actor, enterprise=enterprise, **data))


@router.get("/emergency-plans", response=list[EmergencyPlanOut])
def emergency_plan_list(request: HttpRequest, enterprise_id: int) -> list[Any]:
    qs = selectors.emergency_plans_visible(actor=_actor(request, login=True))
    return list(qs.filter(enterprise_id=enterprise_id))


@router.post("/emergency-plans", response={201: EmergencyPlanOut})
def emergency_plan_create(request: HttpRequest, payload: EmergencyPlanIn) -> Status[Any]:
    actor = _actor(request, login=True)
    enterprise = selectors.enterprise_get(actor=actor, enterprise_id=payload.enterprise_id)
    return Status(
        201,
        services.emergency_plan_create(
            actor=actor,
            enterprise=enterprise,
            site=_site_of(actor, payload.site_id),
            filing_number=payload.filing_number,
            filed_on=payload.filed_on,
            authority=payload.authority,
            valid_until=payload.valid_until,
        ),
    )


@router.get("/map", response=list[MapPoint])
def site_map(request: HttpRequest, region: str = "", management_class: str = "") -> list[dict[str, Any]]:
    """Site points for the regulator's map (at most 20,000)."""
    qs = selectors.sites_visible(actor=_actor(request, login=True)).filter(latitude__isnull=False)
    if region:
        qs = (
            qs.filter(region__key=region)
            | qs.filter(region__parent__key=region)
            | qs.filter(region__supervisor__key=region)
        )
    if management_class:
        qs = qs.filter(management_class=management_class)
    return [
        {
            "site_id": s.id,
            "enterprise_id": s.enterprise_id,
            "name": s.enterprise.name,
            "latitude": s.latitude,
            "longitude": s.longitude,
            "management_class": s.management_class,
            "roles": s.roles,
        }
        for s in qs[:20000]
    ]
