provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# CloudFront is a global service whose WAF web ACLs (scope CLOUDFRONT), ACM certificates and
# metrics live in us-east-1, whatever region the rest of the estate is in.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}
