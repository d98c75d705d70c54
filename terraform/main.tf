locals {
  # Canonical's account: https://ubuntu.com/server/docs/cloud-images/amazon-ec2
  canonical_owner_id = "099720109477"
  ubuntu_name = {
    x86_64 = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"
    arm64  = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-arm64-server-*"
  }
  arches      = var.ami_id == null ? toset(distinct([for i in values(var.instances) : i.arch])) : toset([])
  bucket_name = coalesce(var.results_bucket_name, "embench-results-${data.aws_caller_identity.current.account_id}-${var.region}")
  bucket_arn  = var.create_results_bucket ? aws_s3_bucket.results[0].arn : null
}

data "aws_caller_identity" "current" {}

data "aws_ami" "ubuntu" {
  for_each    = local.arches
  most_recent = true
  owners      = [local.canonical_owner_id]

  filter {
    name   = "name"
    values = [local.ubuntu_name[each.key]]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }

  dynamic "filter" {
    for_each = var.availability_zone == null ? [] : [var.availability_zone]
    content {
      name   = "availability-zone"
      values = [filter.value]
    }
  }
}

resource "aws_key_pair" "embench" {
  key_name_prefix = "embench-"
  public_key      = var.public_key
}

resource "aws_security_group" "embench" {
  name_prefix = "embench-"
  description = "embench benchmark boxes: SSH from one CIDR only"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description = "SSH from the operator network only"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.allowed_ssh_cidr]
  }

  #checkov:skip=CKV_AWS_382:Set-up downloads Rust crates, PyPI wheels and the repo over HTTPS from hosts whose addresses are not fixed.
  egress {
    description = "HTTPS and HTTP for package registries and the git clone"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "embench" {
  name_prefix = "embench-"
  description = "embench benchmark instances"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "results_write" {
  count = var.create_results_bucket ? 1 : 0
  name  = "embench-results-write"
  role  = aws_iam_role.embench.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteResultsOnly"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      Resource = ["${local.bucket_arn}/*"]
    }]
  })
}

resource "aws_iam_instance_profile" "embench" {
  name_prefix = "embench-"
  role        = aws_iam_role.embench.name
}

resource "aws_instance" "bench" {
  for_each = var.instances

  ami                    = coalesce(var.ami_id, try(data.aws_ami.ubuntu[each.value.arch].id, null))
  instance_type          = each.value.instance_type
  key_name               = aws_key_pair.embench.key_name
  subnet_id              = sort(data.aws_subnets.default.ids)[0]
  vpc_security_group_ids = [aws_security_group.embench.id]
  iam_instance_profile   = aws_iam_instance_profile.embench.name
  monitoring             = var.detailed_monitoring
  ebs_optimized          = true
  #checkov:skip=CKV_AWS_88:The box is reached over SSH from allowed_ssh_cidr only; a bastion is out of scope for a benchmark box.
  associate_public_ip_address = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size           = var.root_volume_size_gb
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = true
  }

  user_data = templatefile("${path.module}/user_data.sh", {
    repo_url         = var.repo_url
    git_ref          = var.git_ref
    benchmark_config = var.benchmark_config
    run_benchmarks   = var.run_benchmarks
    results_bucket   = var.create_results_bucket ? local.bucket_name : ""
    instance_name    = each.key
  })

  tags = merge({ Name = "embench-${each.key}" }, each.value.tags)
}
