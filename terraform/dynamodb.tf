# The runtime table. Its key schema, attribute definitions, GSI and billing mode are the
# contract's (link_tracking_runtime.table), which setup_dynamodb also creates from; the tests
# in tests/terraform compare the two.
resource "aws_dynamodb_table" "link_runtime" {
  name         = "link-runtime-${var.environment}"
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
    kms_key_arn = aws_kms_key.main.arn
  }

  deletion_protection_enabled = var.deletion_protection
}
