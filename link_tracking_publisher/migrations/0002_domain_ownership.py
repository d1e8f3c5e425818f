# Domain ownership: new domains are pending until their owner proves control of the name.
# Domains that exist before this migration keep working: they are marked verified
# (verification_method "migration"), each with its own token; a pending one becomes active.
# Privacy requests keep their subject only as a keyed hash: existing identifiers are hashed and
# the clear values dropped.

import django.db.models.deletion
import link_tracking_publisher.models
import link_tracking_publisher.validators
from django.conf import settings
from django.db import migrations, models


def verify_existing_domains(apps, schema_editor):
    from django.utils import timezone

    Domain = apps.get_model("link_tracking", "Domain")
    now = timezone.now()
    for domain in Domain.objects.all().iterator():
        domain.verified_at = now
        domain.verification_method = "migration"
        domain.verification_token = link_tracking_publisher.models.new_verification_token()
        if domain.status == "pending":
            domain.status = "active"
        domain.save(
            update_fields=["verified_at", "verification_method", "verification_token", "status"]
        )


def hash_privacy_subjects(apps, schema_editor):
    from link_tracking_publisher.services.privacy import subject_hash

    PrivacyRequest = apps.get_model("link_tracking", "PrivacyRequest")
    for request in PrivacyRequest.objects.all().iterator():
        request.subject_hash = subject_hash(request.subject_type, request.subject_value)
        request.save(update_fields=["subject_hash"])


class Migration(migrations.Migration):

    dependencies = [
        ('link_tracking', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='domain',
            name='verification_checked_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='domain',
            name='verification_error',
            field=models.CharField(blank=True, editable=False, max_length=500),
        ),
        migrations.AddField(
            model_name='domain',
            name='verification_method',
            field=models.CharField(blank=True, choices=[('dns', 'DNS TXT record'), ('manual', 'By hand (staff)'), ('migration', 'Existing before ownership checks')], editable=False, max_length=16),
        ),
        migrations.AddField(
            model_name='domain',
            name='verification_token',
            field=models.CharField(default=link_tracking_publisher.models.new_verification_token, editable=False, help_text='The value the owner publishes in the DNS TXT record.', max_length=64),
        ),
        migrations.AddField(
            model_name='domain',
            name='verified_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='domain',
            name='verified_by',
            field=models.ForeignKey(blank=True, editable=False, help_text='The staff member who verified the domain by hand.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='domain',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending verification'), ('warming', 'Warming'), ('active', 'Active'), ('suspended', 'Suspended'), ('retired', 'Retired')], default='pending', max_length=16),
        ),
        migrations.RunPython(verify_existing_domains, migrations.RunPython.noop),
        migrations.AddField(
            model_name='privacyrequest',
            name='subject_hash',
            field=models.CharField(db_index=True, default='', editable=False, help_text='HMAC-SHA256 of the subject.', max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(hash_privacy_subjects, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='privacyrequest',
            name='subject_value',
        ),
        migrations.AlterField(
            model_name='privacyrequest',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('processing', 'Processing'), ('complete', 'Complete'), ('partial', 'Partial (some stores not done)'), ('failed', 'Failed'), ('rejected', 'Rejected')], default='pending', max_length=16),
        ),
        migrations.AlterField(
            model_name='link',
            name='signature_secret_ref',
            field=models.CharField(blank=True, help_text="Secrets Manager name of the signing keyring, under LINK_TRACKING['SIGNING_KEYRING_PREFIX'] (link-signatures/ by default).", max_length=512, validators=[link_tracking_publisher.validators.validate_signature_secret_ref]),
        ),
    ]
