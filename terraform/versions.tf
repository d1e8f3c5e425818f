terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Partial configuration: bucket, key, region and the lock table are given at init time,
  # one file per environment (see environments/*.s3.tfbackend.example and docs/DEPLOYMENT.md):
  #   terraform init -backend-config=environments/prod.s3.tfbackend
  backend "s3" {}
}
