"""Checks what `terraform apply` made in moto: outputs exist and SSH is not open to the world.

Usage: check_moto_state.py ENDPOINT OUTPUTS_JSON EXPECTED_INSTANCES
"""
import json
import sys

import boto3

endpoint, outputs_path, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
outputs = {k: v["value"] for k, v in json.load(open(outputs_path)).items()}
failures = []

for key in ("instance_ids", "public_ips", "ssh_commands"):
    if len(outputs.get(key) or {}) != expected:
        failures.append(f"output {key} has {len(outputs.get(key) or {})} entries, expected {expected}")
if not outputs.get("results_bucket"):
    failures.append("output results_bucket is empty although the bucket was requested")

session = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
ec2 = boto3.client("ec2", **session)
group = ec2.describe_security_groups(GroupIds=[outputs["security_group_id"]])["SecurityGroups"][0]
for rule in group["IpPermissions"]:
    for r in rule.get("IpRanges", []):
        if r["CidrIp"] == "0.0.0.0/0":
            failures.append(f"security group allows 0.0.0.0/0 on port {rule.get('FromPort')}")
    for r in rule.get("Ipv6Ranges", []):
        if r["CidrIpv6"] == "::/0":
            failures.append(f"security group allows ::/0 on port {rule.get('FromPort')}")

reservations = ec2.describe_instances(InstanceIds=list(outputs["instance_ids"].values()))["Reservations"]
for inst in (i for r in reservations for i in r["Instances"]):
    if inst.get("MetadataOptions", {}).get("HttpTokens") != "required":
        failures.append(f"{inst['InstanceId']}: IMDSv2 is not required")

s3 = boto3.client("s3", **session)
enc = s3.get_bucket_encryption(Bucket=outputs["results_bucket"])["ServerSideEncryptionConfiguration"]
if not enc["Rules"]:
    failures.append("results bucket is not encrypted")
block = s3.get_public_access_block(Bucket=outputs["results_bucket"])["PublicAccessBlockConfiguration"]
if not all(block.values()):
    failures.append(f"results bucket public access block is incomplete: {block}")
if s3.get_bucket_versioning(Bucket=outputs["results_bucket"]).get("Status") != "Enabled":
    failures.append("results bucket versioning is off")

for f in failures:
    print(f"FAIL: {f}")
print(f"moto state: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
