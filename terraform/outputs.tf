output "instance_ids" {
  description = "Instance id per benchmark box."
  value       = { for k, i in aws_instance.bench : k => i.id }
}

output "public_ips" {
  description = "Public IP per benchmark box."
  value       = { for k, i in aws_instance.bench : k => i.public_ip }
}

output "ssh_commands" {
  description = "How to log in to each box (use the private key matching public_key)."
  value       = { for k, i in aws_instance.bench : k => "ssh ubuntu@${i.public_ip}" }
}

output "results_bucket" {
  description = "The results bucket, when created."
  value       = var.create_results_bucket ? aws_s3_bucket.results[0].bucket : null
}

output "security_group_id" {
  description = "The security group of the boxes."
  value       = aws_security_group.embench.id
}
