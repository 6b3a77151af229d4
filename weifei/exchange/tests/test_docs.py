"""docs/exchange-format.md matches the field tables, and its example file imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from weifei.exchange.records import field_tables_markdown
from weifei.registry.models import Licence

from .conftest import export_text, run_import

DOCS = Path(settings.BASE_DIR) / "docs"


def test_the_page_holds_the_field_tables_of_the_code() -> None:
    page = (DOCS / "exchange-format.md").read_text(encoding="utf-8")
    assert field_tables_markdown() in page


@pytest.mark.usefixtures("reference")
def test_the_example_file_imports_and_exports_unchanged() -> None:
    text = (DOCS / "exchange-example.jsonl").read_text(encoding="utf-8")
    report = run_import(text)
    assert not report.problems, [str(p) for p in report.problems]
    assert sum(report.created.values()) == 12
    assert Licence.objects.get().valid_to.isoformat() == "2029-12-31"
    assert run_import(export_text()).unchanged.total() == 12
