"""Click dedupe keys: a 64-bit integer per event (with its UTC day, for pruning) instead of
the event id's text. Keys already held are converted, stamped with the day of the migration so
that they are kept for a whole horizon. Per-message rows: one index (link, sms_msg_id)
instead of two."""

import time

from django.db import migrations, models

import link_tracking_publisher.models


def convert_keys(apps, schema_editor):
    from link_tracking_publisher.clicks.dedupe import event_key

    Legacy = apps.get_model("link_tracking", "ClickEventIdLegacy")
    Key = apps.get_model("link_tracking", "ClickEventKey")
    day = int(time.time() // 86400)
    batch = []
    for event_id in Legacy.objects.values_list("event_id", flat=True).iterator(chunk_size=5000):
        batch.append(Key(key=event_key(event_id), day=day))
        if len(batch) == 5000:
            Key.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Key.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ("link_tracking", "0003_click_statistics"),
    ]

    operations = [
        migrations.RenameModel("ClickEventKey", "ClickEventIdLegacy"),
        migrations.CreateModel(
            name="ClickEventKey",
            fields=[
                (
                    "key",
                    link_tracking_publisher.models.Int64KeyField(
                        primary_key=True, serialize=False
                    ),
                ),
                ("day", models.IntegerField()),
            ],
            options={
                "verbose_name": "ingested click event key",
            },
        ),
        migrations.RunPython(convert_keys, migrations.RunPython.noop, elidable=True),
        migrations.DeleteModel("ClickEventIdLegacy"),
        migrations.RemoveIndex(model_name="messageclick", name="message_click_link_idx"),
        migrations.RemoveConstraint(model_name="messageclick", name="message_click_unique"),
        migrations.AddConstraint(
            model_name="messageclick",
            constraint=models.UniqueConstraint(
                fields=("link", "sms_msg_id"), name="message_click_unique"
            ),
        ),
    ]
