# Optional results bucket: private, encrypted, versioned, public access blocked.

resource "aws_s3_bucket" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = local.bucket_name

  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket; results are written by the instance role only.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed for reproducible benchmark output.
  #checkov:skip=CKV2_AWS_62:No consumer listens for results events.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is enough for benchmark figures and avoids a KMS key to manage.
}

resource "aws_s3_bucket_public_access_block" "results" {
  count                   = var.create_results_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.results[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = aws_s3_bucket.results[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = aws_s3_bucket.results[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = aws_s3_bucket.results[0].id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}
