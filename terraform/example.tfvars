# Copy to terraform.tfvars (git-ignored) and edit. Only the first two are required.
allowed_ssh_cidr = "203.0.113.7/32" # your IP; 0.0.0.0/0 is rejected
public_key       = "ssh-ed25519 AAAA... you@laptop"

region = "us-east-1"
instances = {
  c7i = { instance_type = "c7i.4xlarge" }
  # c7g = { instance_type = "c7g.4xlarge", arch = "arm64" }   # Graviton
  # g5  = { instance_type = "g5.2xlarge" }                     # NVIDIA A10G
}

git_ref               = "main"
run_benchmarks        = true # run scripts/run_all_benchmarks.sh at boot
create_results_bucket = true # upload the run directory to a private S3 bucket
