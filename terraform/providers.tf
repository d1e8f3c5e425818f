provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# The secondary region's runtime estate (module.secondary). Without a secondary region nothing
# uses this configuration; it then points at the primary region so that it stays valid.
provider "aws" {
  alias  = "secondary"
  region = local.secondary_region != "" ? local.secondary_region : var.aws_region

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
