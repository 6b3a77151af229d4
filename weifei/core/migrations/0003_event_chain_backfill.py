# Chain the events recorded before the chain existed, in the order they were written (id),
# into the streams event_record would have chosen. Uses the published canonical form
# (weifei.core.chain), which is frozen by definition: auditors recompute with it.

from django.db import migrations


def backfill(apps, schema_editor):
    from weifei.core.chain import GENESIS_HASH, event_hash, organisation_id_of, stream_for

    Event = apps.get_model("core", "Event")
    EventStream = apps.get_model("core", "EventStream")
    heads: dict[str, tuple[int, str]] = {}
    subjects: dict[tuple[str, str], int | None] = {}
    batch = []
    for event in Event.objects.order_by("id").iterator(chunk_size=2000):
        key = (event.subject_type, event.subject_id)
        if key not in subjects:
            subjects[key] = None
            try:
                model = apps.get_model(event.subject_type)
                subject = model._default_manager.filter(pk=event.subject_id).first()
            except (LookupError, ValueError):
                subject = None
            if subject is not None:
                subjects[key] = organisation_id_of(subject)
        event.organisation_id = subjects[key]
        event.stream = stream_for(event.organisation_id)
        seq, prev = heads.get(event.stream, (0, GENESIS_HASH))
        event.seq, event.prev_hash = seq + 1, prev
        event.hash = event_hash(event.__dict__)
        heads[event.stream] = (event.seq, event.hash)
        batch.append(event)
        if len(batch) >= 2000:
            Event.objects.bulk_update(batch, ["organisation", "stream", "seq", "prev_hash", "hash"])
            batch = []
    if batch:
        Event.objects.bulk_update(batch, ["organisation", "stream", "seq", "prev_hash", "hash"])
    EventStream.objects.bulk_create(
        [EventStream(key=k, head_seq=seq, head_hash=h) for k, (seq, h) in sorted(heads.items())]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_event_chain"),
        ("accounts", "0001_initial"),
        ("catalog", "0001_initial"),
        ("registry", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
