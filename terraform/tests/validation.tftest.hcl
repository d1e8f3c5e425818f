# Variable validations refuse what the estate must never be given. Run with any var file:
#   terraform test -filter=tests/validation.tftest.hcl -var-file=environments/dev.tfvars

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "secondary"
  source = "./tests/mocks"
}

# One plan with three bad values: each of the three validations must refuse its variable.
run "refuses_bad_input" {
  command = plan

  variables {
    # Parquet conversion needs at least 64 MiB.
    firehose_buffer_size_mb = 5
    # Secrets come from Secrets Manager, never as plain environment variables.
    runtime_environment_overrides = { IP_HASH_KEY = "not-here" }
    # CloudFront only takes certificates from us-east-1.
    cloudfront_certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/x"
  }

  expect_failures = [
    var.firehose_buffer_size_mb,
    var.runtime_environment_overrides,
    var.cloudfront_certificate_arn,
  ]
}
