# Secrets. With a secondary region each secret is replicated there (encrypted with that region's
# key): its tasks read their own region's copy, under the same name and the same ARN but for the
# region, and a rotation (put-secret-value on the primary) reaches the replica by itself.
#
# Terraform creates each secret and its first value; rotations afterwards are made
# with `aws secretsmanager put-secret-value` (docs/DEPLOYMENT.md), so every version resource
# ignores later changes to the value and to its staging labels: a plan never reverts a rotation.
#
# The first values come from Secrets Manager's own generator (no extra provider). Punctuation is
# excluded so that the origin secret can be matched literally by an ALB header condition.

data "aws_secretsmanager_random_password" "origin_verify" {
  password_length     = 64
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "ip_hash_key" {
  password_length     = 64
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "signing_key" {
  for_each = toset(var.signing_key_names)

  password_length     = 64
  exclude_punctuation = true
}

# --- Origin verification: CloudFront sends it, the ALB and the runtime check it -----------------

resource "aws_secretsmanager_secret" "origin_verify" {
  #checkov:skip=CKV2_AWS_57:Rotation must move CloudFront, the ALB rule (a Terraform apply) and the runtime (a redeploy) in order; a rotation Lambda cannot. Manual three-step rotation: docs/DEPLOYMENT.md.
  name                    = "${local.name}/origin-verify"
  description             = "Value of the ${local.origin_verify_header} header CloudFront adds to origin requests; the runtime rejects requests without it."
  kms_key_id              = module.primary.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  dynamic "replica" {
    for_each = (local.two_regions ? [module.secondary[0].kms_key_arn] : [])

    content {
      region     = local.secondary_region
      kms_key_id = replica.value
    }
  }
}

resource "aws_secretsmanager_secret_version" "origin_verify" {
  secret_id     = aws_secretsmanager_secret.origin_verify.id
  secret_string = data.aws_secretsmanager_random_password.origin_verify.random_password

  lifecycle {
    ignore_changes = [secret_string, version_stages]
  }
}

# The value in force is read back from Secrets Manager, so a rotation is a put-secret-value and
# an apply. The secret may hold several comma-separated values (the runtime accepts each of
# them): CloudFront sends the first, the ALB forwards any of them. Rotating without dropping a
# request is three steps (docs/DEPLOYMENT.md): "OLD,NEW" then "NEW,OLD" then "NEW".
data "aws_secretsmanager_secret_version" "origin_verify" {
  secret_id = aws_secretsmanager_secret.origin_verify.id

  depends_on = [aws_secretsmanager_secret_version.origin_verify]
}

locals {
  origin_verify_values = [
    for value in split(",", data.aws_secretsmanager_secret_version.origin_verify.secret_string) :
    trimspace(value) if trimspace(value) != ""
  ]
}

# --- IP hashing key: the runtime stores HMAC(key, ip), never the address ------------------------

resource "aws_secretsmanager_secret" "ip_hash_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the key breaks the continuity of ip_hash in click events and IP-based A/B stickiness, so it is rotated deliberately (docs/DEPLOYMENT.md), not on a schedule.
  name                    = "${local.name}/ip-hash-key"
  description             = "HMAC key the runtime hashes visitor IP addresses with."
  kms_key_id              = module.primary.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  dynamic "replica" {
    for_each = (local.two_regions ? [module.secondary[0].kms_key_arn] : [])

    content {
      region     = local.secondary_region
      kms_key_id = replica.value
    }
  }
}

resource "aws_secretsmanager_secret_version" "ip_hash_key" {
  secret_id     = aws_secretsmanager_secret.ip_hash_key.id
  secret_string = data.aws_secretsmanager_random_password.ip_hash_key.random_password

  lifecycle {
    ignore_changes = [secret_string, version_stages]
  }
}

# --- Link-signing keyrings: read by id at request time (runtime) and when signing (control plane)

resource "aws_secretsmanager_secret" "signing" {
  #checkov:skip=CKV2_AWS_57:A keyring rotates by promoting a new current key and keeping the old one under "previous" until links signed with it expire; a generic rotation Lambda would invalidate sent links. Procedure: docs/DEPLOYMENT.md.
  for_each = toset(var.signing_key_names)

  name                    = "${var.signing_secret_prefix}${each.key}"
  description             = "Link-signing keyring {\"current\": {\"kid\", \"secret\"}, \"previous\": [...]}."
  kms_key_id              = module.primary.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  dynamic "replica" {
    for_each = (local.two_regions ? [module.secondary[0].kms_key_arn] : [])

    content {
      region     = local.secondary_region
      kms_key_id = replica.value
    }
  }
}

resource "aws_secretsmanager_secret_version" "signing" {
  for_each = toset(var.signing_key_names)

  secret_id = aws_secretsmanager_secret.signing[each.key].id
  secret_string = jsonencode({
    current  = { kid = "k1", secret = data.aws_secretsmanager_random_password.signing_key[each.key].random_password }
    previous = []
  })

  lifecycle {
    ignore_changes = [secret_string, version_stages]
  }
}
