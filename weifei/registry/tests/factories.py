"""factory_boy factories that build registry records through the services, so that test data
passes the same rules and leaves the same events as real data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory

from weifei.core.actors import SYSTEM
from weifei.core.identifiers import USCC_ALPHABET as ALPHABET
from weifei.core.identifiers import credit_code_check_char
from weifei.registry import services
from weifei.registry.models import Enterprise, Licence, Vehicle


def credit_code(n: int, region_code6: str = "220102") -> str:
    """A valid 统一社会信用代码 numbered ``n`` (organisation part derived from n)."""
    body = "91" + region_code6
    org = ""
    value = n
    for _ in range(9):
        org = ALPHABET[value % 31] + org
        value //= 31
    first17 = body + org
    return first17 + credit_code_check_char(first17)


class ServiceFactory(factory.Factory):
    """Calls ``_service`` instead of ``Model.objects.create``."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        return cls._service(**kwargs)

    @classmethod
    def _service(cls, **kwargs: Any) -> Any:
        raise NotImplementedError


class EnterpriseFactory(ServiceFactory):
    class Meta:
        model = Enterprise

    credit_code = factory.Sequence(lambda n: credit_code(n + 1))
    name = factory.Sequence(lambda n: f"测试单位{n + 1}有限公司")
    region_key = "220102"
    roles: tuple[str, ...] = ("is_generator",)

    @classmethod
    def _service(cls, **kwargs: Any) -> Enterprise:
        return services.enterprise_create(actor=SYSTEM, **kwargs)


class CarrierFactory(EnterpriseFactory):
    roles = ("is_carrier",)
    name = factory.Sequence(lambda n: f"测试危货运输{n + 1}有限公司")


class OperatorFactory(EnterpriseFactory):
    roles = ("is_operator",)
    name = factory.Sequence(lambda n: f"测试环保处置{n + 1}有限公司")


class VehicleFactory(ServiceFactory):
    class Meta:
        model = Vehicle

    carrier = factory.SubFactory(CarrierFactory)
    plate = factory.Sequence(lambda n: f"吉A{n + 10000:05d}")
    transport_certificate = factory.Sequence(lambda n: f"吉交运管{n + 1:06d}")
    payload_tonnes = Decimal("10.000")
    valid_until = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=365))

    @classmethod
    def _service(cls, **kwargs: Any) -> Vehicle:
        return services.vehicle_create(actor=SYSTEM, **kwargs)


class LicenceFactory(ServiceFactory):
    class Meta:
        model = Licence

    holder = factory.SubFactory(OperatorFactory)
    number = factory.Sequence(lambda n: f"吉环危证{n + 1:04d}号")
    kind = "comprehensive"
    categories = factory.LazyFunction(lambda: ["HW08", "HW49"])
    methods = factory.LazyFunction(lambda: ["storage", "disposal"])
    annual_capacity_tonnes = Decimal("5000")
    valid_from = dt.date(2026, 1, 1)

    @classmethod
    def _service(cls, **kwargs: Any) -> Licence:
        return services.licence_create(actor=SYSTEM, **kwargs)
