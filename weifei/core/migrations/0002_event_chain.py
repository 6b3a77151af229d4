# The event log becomes a chain: organisation, stream, seq, prev_hash, hash on every event;
# stream heads and chain roots. 0003 fills the chain for events recorded before this
# migration; 0004 adds the (stream, seq) uniqueness and the append-only triggers.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("registry", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChainRoot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("stream_count", models.PositiveIntegerField()),
                ("event_count", models.PositiveBigIntegerField()),
                ("root_hash", models.CharField(max_length=64)),
                ("heads", models.JSONField(default=list)),
            ],
            options={
                "verbose_name": "链根",
                "verbose_name_plural": "链根",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="EventStream",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=100, unique=True)),
                ("head_seq", models.PositiveBigIntegerField(default=0)),
                (
                    "head_hash",
                    models.CharField(
                        default="0000000000000000000000000000000000000000000000000000000000000000", max_length=64
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "事件链",
                "verbose_name_plural": "事件链",
                "ordering": ["key"],
            },
        ),
        migrations.AlterField(
            model_name="event",
            name="occurred_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="event",
            name="organisation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.enterprise",
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="stream",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="event",
            name="seq",
            field=models.PositiveBigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="event",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="event",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
    ]
