from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('link_tracking', '0014_cursor_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='clickwebhook',
            name='consecutive_failures',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='clickwebhook',
            name='disabled_at',
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text='Switched off after too many consecutive failed deliveries: its '
                'deliveries are held (kept, not sent) until it is switched on again.',
                null=True,
            ),
        ),
        migrations.AddField(
            model_name='clickwebhook',
            name='disabled_reason',
            field=models.TextField(blank=True, editable=False),
        ),
    ]
