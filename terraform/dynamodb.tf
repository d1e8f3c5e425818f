# The runtime table. Its key schema, attribute definitions, GSI and billing mode are the
# contract's (link_tracking_runtime.table), which setup_dynamodb also creates from; the tests
# in tests/terraform compare the two.
#
# With a secondary region the table is a global table (version 2019.11.21): a replica in the
# secondary region, encrypted with that region's key, with its own point-in-time recovery.
# Replication is asynchronous (typically under a second between regions); the runtime reads its
# own region's replica and, when that read fails, the other's (DYNAMODB_FALLBACK_REGION). The
# control plane's conditional put on runtime_version orders versions in each replica; between
# replicas the last writer wins, and every write comes from the primary region's control plane.
# Global tables need the stream (new and old images); a one-region table keeps it off.
locals {
  table_name = "link-runtime-${var.environment}"
}

resource "aws_dynamodb_table" "link_runtime" {
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "PK"
  range_key    = "SK"

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  attribute {
    name = "campaign_id"
    type = "S"
  }

  # Campaign-scoped operations of the control plane (bulk republish).
  global_secondary_index {
    name            = "campaign-index"
    hash_key        = "campaign_id"
    range_key       = "SK"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.primary.kms_key_arn
  }

  stream_enabled   = local.two_regions ? true : null
  stream_view_type = local.two_regions ? "NEW_AND_OLD_IMAGES" : null

  dynamic "replica" {
    for_each = (local.two_regions ? [module.secondary[0].kms_key_arn] : [])

    content {
      region_name            = local.secondary_region
      kms_key_arn            = replica.value
      point_in_time_recovery = true
      propagate_tags         = true
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for region in local.replica_regions : length([for r in local.replica_regions : r if r == region]) == 1])
      error_message = "Each region holds one replica of the runtime table: the secondary region must differ from the primary."
    }
  }

  deletion_protection_enabled = var.deletion_protection
}
