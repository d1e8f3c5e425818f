import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('link_tracking', '0018_domain_not_found_url'),
    ]

    operations = [
        migrations.CreateModel(
            name='OrphanClicks',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateTimeField(help_text='Midnight UTC that starts the day.')),
                ('slug', models.CharField(blank=True, max_length=64)),
                ('human_clicks', models.PositiveBigIntegerField(default=0)),
                ('bot_clicks', models.PositiveBigIntegerField(default=0)),
                ('last_click_at', models.DateTimeField()),
                ('domain', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='orphan_clicks', to='link_tracking.domain')),
            ],
            options={
                'verbose_name_plural': 'orphan clicks',
                'ordering': ['domain', '-day', 'slug'],
                'constraints': [models.UniqueConstraint(fields=('domain', 'day', 'slug'), name='orphan_clicks_unique')],
            },
        ),
    ]
