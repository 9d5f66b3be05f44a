#!/usr/bin/env python3
"""Runs the SAM transform on template.yaml offline and prints JSON.

Usage: python3 scripts/sam-transform.py [template.yaml]

Prints one JSON object to stdout:
  {"template": <template.yaml as written, as JSON>,
   "transformed": <the CloudFormation template the SAM transform makes>}

The Go tests in deploy/ read it (so they need no YAML parser). The SAM
translator only accepts S3 locations for CodeUri and DefinitionUri, which
`sam deploy` uploads; this script checks that each local path exists, then
transforms a copy with s3:// placeholders. Managed policies are resolved from
a fixed table (no IAM call, no network): a name missing from it fails here.
Exits non-zero, with the reason on stderr, when the template cannot be read
or transformed.
"""

import copy
import json
import os
import sys

# The translator takes the Region (for pseudo parameters and the partition)
# from a boto3 session: pin one, and keep boto3 off the instance metadata
# endpoint. Region-specific output is not what the checks look at.
REGION = "us-east-1"
os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = REGION
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.arn_generator import ArnGenerator  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

ArnGenerator.BOTO_SESSION_REGION_NAME = REGION

PLACEHOLDER_BUCKET = "bucketmirror-sam-transform-placeholder"

# The managed policies SAM attaches by name (basic execution, X-Ray for
# Tracing) and the ones the template may name; the loader gets no other.
MANAGED_POLICIES = {
    name: "arn:aws:iam::aws:policy/" + path
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/AWSLambdaBasicExecutionRole",
        "AWSXrayWriteOnlyAccess": "AWSXrayWriteOnlyAccess",
        "AWSXRayDaemonWriteAccess": "AWSXRayDaemonWriteAccess",
    }.items()
}


class OfflinePolicyLoader:
    """Managed policy loader for samtranslator that never calls IAM."""

    def load(self):
        return dict(MANAGED_POLICIES)


def fail(msg):
    print("sam-transform: " + msg, file=sys.stderr)
    sys.exit(1)


def placeholder_uris(template, base_dir):
    """Replaces local CodeUri/DefinitionUri with S3 URIs, checking each path."""
    out = copy.deepcopy(template)

    def local(logical_id, prop, path):
        if not isinstance(path, str):
            fail("%s: %s must be a local path, got %r" % (logical_id, prop, path))
        if path.startswith("s3://"):
            return path
        if not os.path.exists(os.path.join(base_dir, path)):
            fail("%s: %s %r does not exist next to the template" % (logical_id, prop, path))
        return "s3://%s/%s/%s" % (PLACEHOLDER_BUCKET, logical_id, prop)

    function_globals = (out.get("Globals") or {}).get("Function") or {}
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = local("Globals", "CodeUri", function_globals["CodeUri"])
    for logical_id, resource in (out.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = local(logical_id, "CodeUri", props["CodeUri"])
        if kind == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["DefinitionUri"] = local(logical_id, "DefinitionUri", props["DefinitionUri"])
    return out


def main(argv):
    path = argv[1] if len(argv) > 1 else "template.yaml"
    try:
        with open(path, encoding="utf-8") as f:
            template = yaml_parse(f.read())
    except (OSError, ValueError) as e:
        fail("reading %s: %s" % (path, e))
    if not isinstance(template, dict):
        fail("%s is not a template (a YAML mapping)" % path)

    local_copy = placeholder_uris(template, os.path.dirname(os.path.abspath(path)))
    try:
        transformed = transform(local_copy, {}, OfflinePolicyLoader())
    except InvalidDocumentException as e:
        fail("transforming %s: %s" % (path, "; ".join(getattr(c, "message", str(c)) for c in e.causes)))
    except Exception as e:  # the translator raises plain errors too
        fail("transforming %s: %s: %s" % (path, type(e).__name__, e))

    json.dump({"template": template, "transformed": transformed}, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
