variable "region" {
  description = "AWS region to run in."
  type        = string
  default     = "us-east-1"
}

variable "availability_zone" {
  description = "Availability zone for the instances (null: the first zone of the default VPC's subnets)."
  type        = string
  default     = null
}

variable "instances" {
  description = <<-EOT
    Benchmark boxes by name. Several at once compare instance types (c7i, c7g Graviton, g5 GPU, inf2).
    arch is x86_64 or arm64 and picks the Ubuntu 22.04 image; tags are added to the instance.
  EOT
  type = map(object({
    instance_type = string
    arch          = optional(string, "x86_64")
    tags          = optional(map(string), {})
  }))
  default = {
    c7i = { instance_type = "c7i.4xlarge" }
  }

  validation {
    condition     = alltrue([for i in values(var.instances) : contains(["x86_64", "arm64"], i.arch)])
    error_message = "Each instance's arch must be x86_64 or arm64."
  }
}

variable "allowed_ssh_cidr" {
  description = "The only CIDR allowed to reach port 22, e.g. your office or your IP /32. No default on purpose."
  type        = string

  validation {
    condition     = can(cidrhost(var.allowed_ssh_cidr, 0)) && var.allowed_ssh_cidr != "0.0.0.0/0" && var.allowed_ssh_cidr != "::/0"
    error_message = "allowed_ssh_cidr must be a valid CIDR and not the whole internet (0.0.0.0/0 or ::/0)."
  }
}

variable "public_key" {
  description = "SSH public key (OpenSSH format) installed for the ubuntu user."
  type        = string
}

variable "root_volume_size_gb" {
  description = "Root volume size (gp3, encrypted)."
  type        = number
  default     = 100
}

variable "detailed_monitoring" {
  description = "CloudWatch detailed (1-minute) monitoring of the instances."
  type        = bool
  default     = true
}

variable "ami_id" {
  description = "Use this AMI instead of looking up Canonical's Ubuntu 22.04 (for tests and pinned images)."
  type        = string
  default     = null
}

variable "repo_url" {
  description = "Git URL of embench to clone on the instance."
  type        = string
  default     = "https://github.com/embench/embench.git"
}

variable "git_ref" {
  description = "Branch, tag or commit to check out."
  type        = string
  default     = "main"
}

variable "benchmark_config" {
  description = "Config that run_all_benchmarks.sh runs, relative to the repository."
  type        = string
  default     = "configs/benchmark_config.yaml"
}

variable "run_benchmarks" {
  description = "Run scripts/run_all_benchmarks.sh at the end of set-up (and upload when a bucket exists)."
  type        = bool
  default     = false
}

variable "create_results_bucket" {
  description = "Create a private, encrypted, versioned S3 bucket for results, writable only by the instances."
  type        = bool
  default     = false
}

variable "results_bucket_name" {
  description = "Name of the results bucket (null: embench-results-<account id>-<region>)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}
