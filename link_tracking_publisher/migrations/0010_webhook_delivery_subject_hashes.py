from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("link_tracking", "0009_webhook_previous_secret"),
    ]

    operations = [
        migrations.AddField(
            model_name="clickwebhookdelivery",
            name="subject_hashes",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
