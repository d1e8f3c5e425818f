import django.db.models.deletion
import link_tracking_publisher.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('link_tracking', '0015_webhook_disabled'),
    ]

    operations = [
        migrations.AddField(
            model_name='domain',
            name='message_keyring',
            field=models.CharField(blank=True, help_text="Secrets Manager name of the keyring that signs the domain's per-message SMS links (/{slug}/{token}), under LINK_TRACKING['SIGNING_KEYRING_PREFIX']; empty: SMS links carry ?sms_msg_id= instead.", max_length=512, validators=[link_tracking_publisher.validators.validate_signature_secret_ref]),
        ),
        migrations.AddField(
            model_name='link',
            name='messages_issued',
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='link',
            name='query_message_id',
            field=models.BooleanField(default=True, help_text='Take a ?sms_msg_id= typed into the URL (the query-string SMS form). Off: only per-message links attribute a message, and a typed one is ignored.'),
        ),
        migrations.CreateModel(
            name='MessageToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sequence', models.PositiveBigIntegerField()),
                ('sms_msg_id', models.CharField(max_length=128)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('link', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='message_tokens', to='link_tracking.link')),
            ],
            options={
                'ordering': ['link', 'sequence'],
                'constraints': [models.UniqueConstraint(fields=('link', 'sequence'), name='message_token_sequence'), models.UniqueConstraint(fields=('link', 'sms_msg_id'), name='message_token_message')],
            },
        ),
    ]
