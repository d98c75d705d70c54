# Test only: points the AWS provider at a local moto server. scripts/test_terraform.sh
# copies the module to a temporary directory, writes this file there as
# provider_override.tf with @MOTO_ENDPOINT@ filled in, and never touches real AWS.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    ec2 = "@MOTO_ENDPOINT@"
    iam = "@MOTO_ENDPOINT@"
    s3  = "@MOTO_ENDPOINT@"
    sts = "@MOTO_ENDPOINT@"
  }
}
