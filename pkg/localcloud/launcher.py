#!/usr/bin/env python3
"""Start moto's server (pinned to moto 5.2.1) with a few in-process patches.

Invoked by the Go side as `python3 launcher.py --host H --port P`; all args are
handed to moto's own entry point. MOTO_PORT is deliberately left alone: it
points at the Go router in front of moto, and moto uses it to build URLs.

Patches:
  1. Step Functions: executing state machines is enabled up front, and a
     second StartExecution no longer fails (moto issue #10077).
  2. S3 bucket subresources that moto lacks or gets wrong (requestPayment,
     analytics/metrics/intelligent-tiering/inventory configurations, abac,
     metadataConfiguration/metadataTable), answered with real S3 XML shapes.
"""
import base64
import re
import sys
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
PAGE_SIZE = 100  # real S3 returns at most 100 configurations per list page
MAX_CONFIGS = 1000  # real S3's per-bucket limit for each configuration kind

# Query key -> (element name of one configuration, list result root, operation stem).
# Element names match the aws-sdk-go-v2 s3 deserializers (v1.114.10).
ID_CONFIGS = {
    "analytics": ("AnalyticsConfiguration", "ListBucketAnalyticsConfigurationResult", "Analytics"),
    "metrics": ("MetricsConfiguration", "ListMetricsConfigurationsResult", "Metrics"),
    "intelligent-tiering": (
        "IntelligentTieringConfiguration",
        "ListBucketIntelligentTieringConfigurationsOutput",
        "IntelligentTiering",
    ),
    # moto implements inventory, but its list never pages, its GET/list
    # hard-code IncludedObjectVersions=All, a missing id yields the non-S3 code
    # NoSuchInventoryConfig, and DELETE ?inventory falls through to DeleteBucket.
    # So we own inventory entirely, like the others.
    "inventory": ("InventoryConfiguration", "ListInventoryConfigurationsResult", "Inventory"),
}

# Bucket DELETE subresources moto handles; any other subresource on a bucket
# DELETE would otherwise fall through to moto's DeleteBucket.
MOTO_BUCKET_DELETES = {
    "policy", "tagging", "website", "cors", "lifecycle", "publicAccessBlock",
    "encryption", "replication", "ownershipControls",
}


def enable_sfn_execution():
    # Same effect as POST /moto-api/config {"stepfunctions": {...}} (see
    # moto/moto_api/_internal/models.py set_config), but already true before the
    # Go side's readiness POST arrives.
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


def patch_sfn_deepcopy():
    # https://github.com/getmoto/moto/issues/10077 (fixed upstream in #10093):
    # StepFunctionsParserBackend.start_execution deep-copies the state machine,
    # whose `executions` already hold Executions with a live worker thread and an
    # RLock, so the 2nd StartExecution fails with "cannot pickle '_thread.RLock'".
    # The clone only snapshots the definition; past executions are runtime state
    # and can be shared, not copied.
    from moto.stepfunctions.parser.backend.execution import Execution

    Execution.__deepcopy__ = lambda self, memo: self


# ---------------------------------------------------------------- S3 helpers


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _error(status, code, message, bucket):
    # Same shape as moto's own S3 errors; moto fills in the RequestId.
    body = (
        f"{XML_DECL}<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<BucketName>{escape(bucket)}</BucketName><RequestId>0</RequestId>"
        "<HostId>localcloud</HostId></Error>"
    )
    return status, {"content-type": "application/xml"}, body


def _xml(body):
    return 200, {"content-type": "application/xml"}, XML_DECL + body


def _parse(body, root_name):
    """Parse a PUT body; return (root element, body text) or None if malformed."""
    text = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    return (root, text) if _local(root.tag) == root_name else None


def _child_text(root, name):
    for child in root:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _state(bucket):
    # Lazily attached to moto's bucket object: dies with the bucket, which is fine.
    st = bucket.__dict__.get("_localcloud")
    if st is None:
        st = bucket.__dict__.setdefault(
            "_localcloud",
            {"requestPayment": "BucketOwner", "abac": "Disabled", **{k: {} for k in ID_CONFIGS}},
        )
    return st


def _simple_value(method, res, bucket, st, key, root, field, allowed):
    """GET/PUT of a one-value document such as <RequestPaymentConfiguration><Payer>."""
    if method == "GET":
        return _xml(f'<{root} xmlns="{NS}"><{field}>{st[key]}</{field}></{root}>')
    parsed = _parse(res.body, root)
    value = _child_text(parsed[0], field) if parsed else None
    if value not in allowed:
        return _error(400, "MalformedXML", "The XML you provided was not well-formed "
                      "or did not validate against our published schema", bucket)
    st[key] = value
    return 200, {}, ""


def _id_config(method, res, bucket, configs, kind, qs):
    elem, list_root, _ = ID_CONFIGS[kind]
    cid = qs.get("id", [None])[0]
    if method == "GET" and cid is None:
        ids = sorted(configs)
        token = qs.get("continuation-token", [None])[0]
        start = 0
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                return _error(400, "InvalidArgument", "The continuation token provided is incorrect", bucket)
            start = next((i for i, k in enumerate(ids) if k >= after), len(ids))
        page, rest = ids[start:start + PAGE_SIZE], ids[start + PAGE_SIZE:]
        parts = [f'<{list_root} xmlns="{NS}">']
        if token is not None:
            parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        parts += [configs[k] for k in page]
        parts.append(f"<IsTruncated>{'true' if rest else 'false'}</IsTruncated>")
        if rest:
            nxt = base64.urlsafe_b64encode(rest[0].encode()).decode()
            parts.append(f"<NextContinuationToken>{nxt}</NextContinuationToken>")
        parts.append(f"</{list_root}>")
        return _xml("".join(parts))
    if not cid:
        return _error(400, "InvalidArgument", "Missing required parameter: id", bucket)
    if method == "GET":
        if cid not in configs:
            return _error(404, "NoSuchConfiguration", "The specified configuration does not exist.", bucket)
        return _xml(configs[cid])
    if method == "DELETE":
        if configs.pop(cid, None) is None:
            return _error(404, "NoSuchConfiguration", "The specified configuration does not exist.", bucket)
        return 204, {}, ""
    # PUT
    parsed = _parse(res.body, elem)
    body_id = _child_text(parsed[0], "Id") if parsed else None
    if not body_id:
        return _error(400, "MalformedXML", "The XML you provided was not well-formed "
                      "or did not validate against our published schema", bucket)
    if body_id != cid:
        return _error(400, "InvalidArgument", "The Id in the configuration does not match the id parameter", bucket)
    if cid not in configs and len(configs) >= MAX_CONFIGS:
        return _error(400, "TooManyConfigurations", "You are attempting to create a new configuration "
                      f"but have already reached the {MAX_CONFIGS:,}-configuration limit.", bucket)
    # Keep the document as sent (minus the XML declaration) so it can be
    # re-emitted verbatim by GET and inside list results.
    configs[cid] = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", parsed[1]).strip()
    return 200, {}, ""


def _handle_s3(res, method, bucket, qs):
    """Answer the subresources moto lacks; None means 'let moto handle it'."""
    from moto.s3.exceptions import MissingBucket

    kind = next((k for k in ID_CONFIGS if k in qs), None)
    meta = next((k for k in ("metadataConfiguration", "metadataTable") if k in qs), None)
    if not (kind or meta or "requestPayment" in qs or "abac" in qs):
        if method == "DELETE" and set(qs) - {"x-id"} and not set(qs) & MOTO_BUCKET_DELETES:
            # Never let an unknown DELETE subresource turn into DeleteBucket.
            return _error(501, "NotImplemented", "A header or query you provided "
                          "implies functionality that is not implemented", bucket)
        return None
    try:
        b = res.backend.get_bucket(bucket)
    except MissingBucket:
        return _error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)
    st = _state(b)
    if kind:
        return _id_config(method, res, bucket, st[kind], kind, qs)
    if meta and method in ("GET", "DELETE"):
        # Nothing can be configured here, so it is always "not found".
        # MetadataConfigurationNotFound is what real S3 returns for the V2 API;
        # the V1 (metadataTable) code is not documented, this is our best guess.
        code = "MetadataConfigurationNotFound" if meta == "metadataConfiguration" \
            else "MetadataTableConfigurationNotFound"
        return _error(404, code, "The specified bucket does not have a metadata configuration.", bucket)
    if "requestPayment" in qs and method in ("GET", "PUT"):
        return _simple_value(method, res, bucket, st, "requestPayment", "RequestPaymentConfiguration",
                             "Payer", ("BucketOwner", "Requester"))
    if "abac" in qs and method in ("GET", "PUT"):
        return _simple_value(method, res, bucket, st, "abac", "AbacStatus", "Status",
                             ("Enabled", "Disabled"))
    return _error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket)


def patch_s3():
    from moto.s3.responses import S3Response

    orig_get = S3Response._bucket_response_get
    orig_put = S3Response._bucket_response_put
    orig_delete = S3Response._bucket_response_delete

    def get(self, bucket_name, querystring):
        out = _handle_s3(self, "GET", bucket_name, querystring)
        return orig_get(self, bucket_name, querystring) if out is None else out

    def put(self, request, bucket_name, querystring):
        out = _handle_s3(self, "PUT", bucket_name, querystring)
        return orig_put(self, request, bucket_name, querystring) if out is None else out

    def delete(self, bucket_name, querystring):
        out = _handle_s3(self, "DELETE", bucket_name, querystring)
        return orig_delete(self, bucket_name, querystring) if out is None else out

    S3Response._bucket_response_get = get
    S3Response._bucket_response_put = put
    S3Response._bucket_response_delete = delete


def main():
    enable_sfn_execution()
    patch_sfn_deepcopy()
    patch_s3()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
