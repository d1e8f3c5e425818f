# Click events: the runtime batches them to Firehose (PutRecordBatch), Firehose converts the JSON
# to Parquet with the Glue table's schema and writes hourly partitions to S3.

# --- Bucket -----------------------------------------------------------------------------------

resource "aws_s3_bucket" "click_events" {
  #checkov:skip=CKV_AWS_144:Click events are an analytics copy; cross-region replication is a cost decision left to the data platform (versioning keeps overwritten objects).
  bucket = var.click_events_bucket_name
}

resource "aws_s3_bucket_public_access_block" "click_events" {
  bucket = aws_s3_bucket.click_events.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "click_events" {
  bucket = aws_s3_bucket.click_events.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "click_events" {
  bucket = aws_s3_bucket.click_events.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "click_events" {
  bucket = aws_s3_bucket.click_events.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "click_events" {
  bucket        = aws_s3_bucket.click_events.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3-access/click-events/"
}

resource "aws_s3_bucket_lifecycle_configuration" "click_events" {
  bucket = aws_s3_bucket.click_events.id

  rule {
    id     = "age-out-click-events"
    status = "Enabled"

    filter {}

    transition {
      days          = var.click_events_transition_days
      storage_class = "GLACIER_IR"
    }

    expiration {
      days = var.click_events_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "click_events_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.click_events.arn,
      "${aws_s3_bucket.click_events.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "click_events" {
  bucket = aws_s3_bucket.click_events.id
  policy = data.aws_iam_policy_document.click_events_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.click_events]
}

locals {
  multi_region_glue = length(var.click_events_bucket_names) > 1

  glue_projection = {
    classification                      = "parquet"
    "parquet.compression"               = "SNAPPY"
    "projection.enabled"                = "true"
    "projection.datehour.type"          = "date"
    "projection.datehour.format"        = "'year='yyyy'/month='MM'/day='dd'/hour='HH"
    "projection.datehour.range"         = "year=2025/month=01/day=01/hour=00,NOW"
    "projection.datehour.interval"      = "1"
    "projection.datehour.interval.unit" = "HOURS"
    "storage.location.template"         = "s3://${aws_s3_bucket.click_events.id}/click-events/$${datehour}/"
  }

  glue_bucket_projection = local.multi_region_glue ? {
    "projection.click_events_bucket.type"   = "enum"
    "projection.click_events_bucket.values" = join(",", var.click_events_bucket_names)
    "storage.location.template"             = "s3://$${click_events_bucket}/click-events/$${datehour}/"
  } : {}
}

# --- Glue schema ------------------------------------------------------------------------------

resource "aws_glue_catalog_database" "analytics" {
  name        = replace(local.name, "-", "_")
  description = "Click events of ${local.name}"
}

# The columns are link_tracking_runtime.events.CLICK_EVENT_COLUMNS, in order (tests/terraform
# compares them). New columns are only ever added at the end.
resource "aws_glue_catalog_table" "click_events" {
  database_name = aws_glue_catalog_database.analytics.name
  name          = "click_events"
  description   = "One row per redirect (link_tracking_runtime.events.ClickEvent)"
  table_type    = "EXTERNAL_TABLE"

  # Partition projection: Athena computes the partitions from the query's datehour predicate
  # and the template below (the prefix Firehose writes), so nothing registers partitions and
  # a query over a time range reads only the hours it needs. The column and its format are
  # link_tracking_runtime.events.CLICK_EVENT_PARTITION_* (tests/terraform compares them).
  #
  # In an estate of two regions each region's Firehose writes to its own region's bucket (a
  # lost region never holds up the other's clicks), and the table reads both: a second
  # projected partition column, click_events_bucket (an enum of every region's bucket, this
  # region's first), names the bucket in the location template. A query over both regions
  # needs no predicate on it; `WHERE click_events_bucket = '...'` reads one region.
  parameters = merge(local.glue_projection, local.glue_bucket_projection)

  partition_keys {
    name    = "datehour"
    type    = "string"
    comment = "UTC hour Firehose received the events in (its S3 prefix), projected"
  }

  dynamic "partition_keys" {
    for_each = local.multi_region_glue ? ["click_events_bucket"] : []

    content {
      name    = partition_keys.value
      type    = "string"
      comment = "Bucket (one per region) the events were delivered to, projected"
    }
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.click_events.id}/click-events/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    columns {
      name = "event_id"
      type = "string"
    }

    columns {
      name = "event_type"
      type = "string"
    }

    columns {
      name = "timestamp"
      type = "double"
    }

    columns {
      name = "link_id"
      type = "string"
    }

    columns {
      name = "domain"
      type = "string"
    }

    columns {
      name = "slug"
      type = "string"
    }

    columns {
      name = "campaign_id"
      type = "string"
    }

    columns {
      name = "keyword"
      type = "string"
    }

    columns {
      name = "channel"
      type = "string"
    }

    columns {
      name = "click_session_id"
      type = "string"
    }

    columns {
      name = "user_agent"
      type = "string"
    }

    columns {
      name = "referer"
      type = "string"
    }

    columns {
      name = "ip_hash"
      type = "string"
    }

    columns {
      name = "geo_country"
      type = "string"
    }

    columns {
      name = "final_url_hash"
      type = "string"
    }

    columns {
      name = "routing_reason"
      type = "string"
    }

    columns {
      name = "is_bot"
      type = "boolean"
    }

    columns {
      name = "fraud_score"
      type = "double"
    }

    columns {
      name = "redirect_latency_ms"
      type = "int"
    }

    columns {
      name = "sms_msg_id"
      type = "string"
    }

    columns {
      name = "ab_variant"
      type = "string"
    }

    columns {
      name = "outcome"
      type = "string"
    }

    columns {
      name = "forwarded_params"
      type = "map<string,string>"
    }

    columns {
      name = "viewer_asn"
      type = "bigint"
    }

    columns {
      name = "message_seq"
      type = "bigint"
    }

    columns {
      name = "bot_reason"
      type = "string"
    }
  }
}

# --- Delivery stream --------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "firehose" {
  name              = "/aws/kinesisfirehose/${local.name}-click-events"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_stream" "firehose_s3" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "click_events" {
  name        = "${local.name}-click-events"
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.main.arn
  }

  extended_s3_configuration {
    role_arn    = aws_iam_role.firehose.arn
    bucket_arn  = aws_s3_bucket.click_events.arn
    kms_key_arn = aws_kms_key.main.arn

    prefix              = "click-events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    error_output_prefix = "click-events-errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"

    # Format conversion needs a buffer of at least 64 MiB; Parquet compresses inside the file,
    # so the S3 object itself stays uncompressed.
    buffering_size     = var.firehose_buffer_size_mb
    buffering_interval = var.firehose_buffer_interval_seconds
    compression_format = "UNCOMPRESSED"

    data_format_conversion_configuration {
      enabled = true

      input_format_configuration {
        deserializer {
          open_x_json_ser_de {}
        }
      }

      output_format_configuration {
        serializer {
          parquet_ser_de {
            compression = "SNAPPY"
          }
        }
      }

      schema_configuration {
        database_name = aws_glue_catalog_table.click_events.database_name
        table_name    = aws_glue_catalog_table.click_events.name
        region        = var.aws_region
        role_arn      = aws_iam_role.firehose.arn
        version_id    = "LATEST"
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose_s3.name
    }
  }
}
