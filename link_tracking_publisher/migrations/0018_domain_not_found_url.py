import link_tracking_publisher.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('link_tracking', '0017_link_tags'),
    ]

    operations = [
        migrations.AddField(
            model_name='domain',
            name='not_found_url',
            field=models.CharField(blank=True, help_text="Where the runtime sends a visitor whose slug is no link of this domain (published in the domain's record); empty: the runtime's DEFAULT_FALLBACK_URL.", max_length=2048, validators=[link_tracking_publisher.validators.validate_redirect_url]),
        ),
    ]
