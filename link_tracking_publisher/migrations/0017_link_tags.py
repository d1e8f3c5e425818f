import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
import link_tracking_publisher.models
import uuid
from django.db import migrations, models

from link_tracking_publisher.conf import ACCOUNT_MODEL


class Migration(migrations.Migration):

    dependencies = [
        ('link_tracking', '0016_message_tokens'),
        migrations.swappable_dependency(ACCOUNT_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Tag',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=64, validators=[link_tracking_publisher.models.validate_tag_name])),
                ('colour', models.CharField(blank=True, help_text='Optional, as #rrggbb, for lists and charts.', max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{6}$', 'A colour as #rrggbb.', code='invalid_colour')])),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='link_tags', to=ACCOUNT_MODEL)),
            ],
            options={
                'ordering': [django.db.models.functions.text.Lower('name')],
            },
        ),
        migrations.AddField(
            model_name='link',
            name='tags',
            field=models.ManyToManyField(blank=True, help_text="The account's tags on this link (control plane only: not published).", related_name='links', to='link_tracking.tag'),
        ),
        migrations.AddConstraint(
            model_name='tag',
            constraint=models.UniqueConstraint(models.F('account'), django.db.models.functions.text.Lower('name'), name='link_tag_unique_name_per_account', violation_error_code='duplicate_tag_name', violation_error_message='This account already has a tag with this name.'),
        ),
    ]
