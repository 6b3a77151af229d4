"""The factories build valid records through the services (and so record events)."""

from __future__ import annotations

from typing import cast

import pytest

from weifei.core.identifiers import validate_credit_code
from weifei.core.models import Event
from weifei.registry.models import Enterprise, Licence, Vehicle
from weifei.registry.tests.factories import EnterpriseFactory, LicenceFactory, VehicleFactory, credit_code

pytestmark = pytest.mark.usefixtures("reference")


def test_generated_credit_codes_are_valid() -> None:
    codes = {credit_code(n) for n in range(1, 500)}
    assert len(codes) == 499
    assert all(validate_credit_code(c) == c for c in codes)


def test_factories_go_through_the_services() -> None:
    enterprise = cast(Enterprise, EnterpriseFactory())
    vehicle = cast(Vehicle, VehicleFactory())
    licence = cast(Licence, LicenceFactory())
    assert vehicle.carrier.is_carrier and licence.holder.is_operator
    assert licence.valid_to.year == 2030
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {"registry.enterprise_created", "registry.vehicle_created", "registry.licence_created"} <= kinds
    assert Event.objects.filter(subject_id=str(enterprise.pk), kind="registry.enterprise_created").count() == 1
