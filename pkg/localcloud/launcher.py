#!/usr/bin/env python3
"""Start moto's server (pinned to moto 5.2.1) with a few in-process patches.

Invoked by the Go side as `python3 launcher.py --host H --port P`; all args are
handed to moto's own entry point. MOTO_PORT is deliberately left alone: it
points at the Go router in front of moto, and moto uses it to build URLs.

Patches:
  1. Step Functions: executing state machines is enabled up front, a
     second StartExecution no longer fails (moto issue #10077), and
     definitions are translated where moto's ASL grammar refuses what Step
     Functions runs (Distributed Map EXPRESS children, an integer
     ToleratedFailurePercentage), and a Distributed Map fails when its failed
     children exceed ToleratedFailureCount/Percentage, as Step Functions does.
  2. S3 bucket subresources that moto lacks or gets wrong (requestPayment,
     analytics/metrics/intelligent-tiering/inventory configurations, abac,
     metadataConfiguration/metadataTable, MfaDelete in versioning), answered
     with real S3 XML shapes; PutBucketTagging/DeleteBucketTagging refused
     while ABAC is enabled (tags then go through S3 Control TagResource,
     which moto serves from the same tag store).
  3. S3 ACL rules moto ignores (BucketOwnerEnforced, BlockPublicAcls) and
     bucket/object ACL listings with one grant per grantee and permission.
  4. S3 lifecycle, logging and notifications fields moto drops (object-size
     filters, NewerNoncurrentVersions, TransitionDefaultMinimumObjectSize,
     TargetObjectKeyFormat, EventBridgeConfiguration), and S3's check that
     notification targets exist.
  5. CreateBucket's CreateBucketConfiguration Tags, which moto ignores.
  6. Region-scoped bucket listing: ListBuckets reports BucketRegion and pages
     with MaxBuckets/ContinuationToken, and the Tagging API lists a bucket
     only in its own Region.
  7. Accounts: each account has its own canonical user id in bucket and
     object ACLs and the ListBuckets Owner (moto gives every account one), and
     STS AssumeRole is refused unless the role exists in its account and its
     trust policy admits the caller (moto lets anyone assume any role name).
  8. Speed only, no behaviour: moto's request dispatch computes once what it
     recomputed on every request (the list of its service packages, the
     backend for a Host, the error shapes of a service), which roughly halves
     the emulator's CPU per request; and the server's listen backlog is
     raised from werkzeug's 128, which bursts of new connections overflowed.

Every patch names the rows of docs/s3-conformance.md that record the real S3
behaviour it emulates and the evidence for it, with a line
`# conformance: <row-id>[, <row-id>...]` in its body. A test
(pkg/localcloud/conformance_test.go) fails when a patch has none or names a
row that does not exist: add the row when you add a patch.
"""
import base64
import fnmatch
import hashlib
import json
import re
import datetime
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
    # conformance: sfn-execute-state-machine
    # Same effect as POST /moto-api/config {"stepfunctions": {...}} (see
    # moto/moto_api/_internal/models.py set_config), but already true before the
    # Go side's readiness POST arrives.
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


def patch_sfn_deepcopy():
    # conformance: sfn-repeat-start-execution
    # https://github.com/getmoto/moto/issues/10077 (fixed upstream in #10093):
    # StepFunctionsParserBackend.start_execution deep-copies the state machine,
    # whose `executions` already hold Executions with a live worker thread and an
    # RLock, so the 2nd StartExecution fails with "cannot pickle '_thread.RLock'".
    # The clone only snapshots the definition; past executions are runtime state
    # and can be shared, not copied.
    from moto.stepfunctions.parser.backend.execution import Execution

    Execution.__deepcopy__ = lambda self, memo: self


def patch_sfn_start_time():
    # conformance: sfn-context-start-time
    # The context object's $$.Execution.StartTime is a str in AWS ("ISO 8601",
    # e.g. 2019-03-26T20:14:13.192Z) and typed so in moto's own ContextObject,
    # but moto 5.2.1 passes the datetime, so States.Format('{}',
    # $$.Execution.StartTime) fails with "Object of type datetime is not JSON
    # serializable". Hand the evaluator the string AWS would.
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.get_start_execution_details

    def get_start_execution_details(self):
        details = original(self)
        start = details.get("start_time") if isinstance(details, dict) else getattr(details, "start_time", None)
        if hasattr(start, "strftime"):
            text = start.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
            if isinstance(details, dict):
                details["start_time"] = text
            else:
                details.start_time = text
        return details

    Execution.get_start_execution_details = get_start_execution_details


def _translate_asl(definition):
    """Rewrite what moto 5.2.1's ASL grammar refuses but Step Functions runs.

    Only the emulator's copy changes; the deployed definition (SAM's file) is
    the real one. Real Step Functions: a Distributed Map's
    ProcessorConfig.ExecutionType is STANDARD or EXPRESS, and
    ToleratedFailurePercentage is a number 0-100
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).
    moto's grammar (ASLParser, ProcessorConfig/tolerated_failure rules) takes
    only STANDARD and only a decimal literal. ItemBatcher, which moto refuses
    as well, is not translated: dropping it would change what each child gets,
    so a definition using it stays refused (bucketmirror's items are batches).
    """
    try:
        doc = json.loads(definition)
    except ValueError:
        return definition  # moto reports the parse error itself

    def walk(states):
        for st in (states or {}).values():
            if not isinstance(st, dict):
                continue
            if st.get("Type") == "Map":
                proc = st.get("ItemProcessor") or st.get("Iterator") or {}
                cfg = proc.get("ProcessorConfig") or {}
                # conformance: sfn-map-express-children
                if cfg.get("ExecutionType") == "EXPRESS":
                    cfg["ExecutionType"] = "STANDARD"
                tfp = st.get("ToleratedFailurePercentage")
                # conformance: sfn-map-tolerated-failure-percentage-integer
                if isinstance(tfp, int) and not isinstance(tfp, bool):
                    st["ToleratedFailurePercentage"] = float(tfp)
                walk(proc.get("States"))
            for branch in st.get("Branches") or []:
                walk(branch.get("States"))

    walk(doc.get("States"))
    return json.dumps(doc)


def patch_sfn_definitions():
    # conformance: sfn-map-express-children, sfn-map-tolerated-failure-percentage-integer
    # Definitions reach moto through CreateStateMachine and UpdateStateMachine;
    # both validate with the grammar first, so translate before either.
    # DescribeStateMachine then shows the translated copy (AWS would show the
    # definition as sent).
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    create, update = StepFunctionsParserBackend.create_state_machine, StepFunctionsParserBackend.update_state_machine

    def create_state_machine(self, name, definition, *args, **kwargs):
        return create(self, name, _translate_asl(definition), *args, **kwargs)

    def update_state_machine(self, arn, definition=None, *args, **kwargs):
        if definition:
            definition = _translate_asl(definition)
        return update(self, arn, definition, *args, **kwargs)

    StepFunctionsParserBackend.create_state_machine = create_state_machine
    StepFunctionsParserBackend.update_state_machine = update_state_machine


def patch_sfn_map_tolerance():
    # conformance: sfn-map-tolerated-failure-threshold
    # Real Step Functions fails a Map Run whose failed (or timed-out) items
    # exceed its tolerance, with States.ExceedToleratedFailureThreshold, which
    # the Map state's Retry/Catch then see like any error
    # (https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html):
    # the percentage is (failed + timed out) / total items; a threshold that is
    # not specified does not apply, with neither specified any failure fails
    # the run (both default to zero), with both the run fails when either is
    # exceeded. moto 5.2.1 evaluates both values and stores them in the Map
    # Run record, then never compares: a failed child's output is null and the
    # Map succeeds whatever fails. Compared here once every child has ended
    # (the guide allows children to go on running after the threshold is
    # exceeded, before the Map Run fails).
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
        ToleratedFailureCountDecl,
        ToleratedFailurePercentageDecl,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    from_props = StateMap.from_state_props

    def from_state_props(self, state_props):
        from_props(self, state_props)
        # moto fills in a zero for a threshold the definition leaves out, but
        # an unspecified threshold does not apply: remember which were given.
        self.iteration_component._localcloud_tolerance = (
            state_props.get(ToleratedFailureCountDecl) is not None,
            state_props.get(ToleratedFailurePercentageDecl) is not None,
        )

    map_run = DistributedIterationComponent._map_run

    def _map_run(self, env, eval_input):
        map_run(self, env, eval_input)
        record = eval_input.map_run_record
        counts = record.item_counter
        total = counts.total.get()
        failed = counts.failed.get() + counts.timed_out.get()
        has_count, has_percentage = getattr(self, "_localcloud_tolerance", (False, False))
        count, percentage = eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
        exceeded = failed > 0 and (
            (not has_count and not has_percentage)
            or (has_count and failed > count)
            or (has_percentage and total > 0 and failed * 100.0 / total > percentage)
        )
        if not exceeded:
            return
        env.stack.pop()  # the children's outputs: a failed Map has none
        name = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                # As a Task's failure is TaskFailed: the Map state then records
                # MapStateFailed and its Retry/Catch see the error name.
                event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(
                    mapRunFailedEventDetails=MapRunFailedEventDetails(
                        error=name,
                        cause=f"The specified tolerance threshold was exceeded: {failed} of {total} items "
                        f"failed or timed out (ToleratedFailureCount {count if has_count else 'unset'}, "
                        f"ToleratedFailurePercentage {percentage if has_percentage else 'unset'}).",
                    )
                ),
            )
        )

    StateMap.from_state_props = from_state_props
    DistributedIterationComponent._map_run = _map_run


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
    # conformance: s3-request-payment, s3-abac-status
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
    # conformance: s3-id-configurations, s3-id-configuration-not-found, s3-id-configuration-limit, s3-id-configuration-list-paging
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


def _versioning(res, method, bucket, b, st):
    """GET/PUT ?versioning with MFA delete, which moto drops.

    moto keeps only <Status>; real S3 also stores <MfaDelete> and returns it on
    GET once it has been set. Status stays moto's (Object Lock and replication
    read it), so a PUT is handed on to moto after <MfaDelete> is recorded.
    Real S3 also requires the x-amz-mfa header (root user, HTTPS) to enable
    MfaDelete or, once it is on, to change the versioning status at all, and
    refuses MFA delete on a bucket with lifecycle rules. The header's token is
    not checked here (there are no MFA devices); its presence is.
    """
    # conformance: s3-versioning-mfa-delete, s3-versioning-mfa-required, s3-versioning-mfa-lifecycle
    if method == "PUT":
        parsed = _parse(res.body, "VersioningConfiguration")
        mfa = _child_text(parsed[0], "MfaDelete") if parsed else None
        if mfa is not None and mfa not in ("Enabled", "Disabled"):
            return _error(400, "MalformedXML", "The XML you provided was not well-formed "
                          "or did not validate against our published schema", bucket)
        if (st.get("mfaDelete") == "Enabled" or mfa == "Enabled") and not res.headers.get("x-amz-mfa"):
            return _error(403, "AccessDenied", "Mfa Authentication must be used for this request", bucket)
        if mfa == "Enabled" and b.rules:
            return _error(409, "InvalidBucketState", "Mfa Authentication is not supported on a bucket with "
                          "lifecycle configuration. Delete lifecycle configuration before enabling Mfa "
                          "Authentication.", bucket)
        if mfa is not None:
            st["mfaDelete"] = mfa
        return None
    parts = [f'<VersioningConfiguration xmlns="{NS}">']
    if b.versioning_status:
        parts.append(f"<Status>{b.versioning_status}</Status>")
    if st.get("mfaDelete"):
        parts.append(f"<MfaDelete>{st['mfaDelete']}</MfaDelete>")
    parts.append("</VersioningConfiguration>")
    return _xml("".join(parts))


def _handle_s3(res, method, bucket, qs):
    """Answer the subresources moto lacks; None means 'let moto handle it'."""
    # conformance: s3-abac-refuses-bucket-tagging, s3-unknown-delete-subresource, s3-request-payment, s3-abac-status
    from moto.s3.exceptions import MissingBucket

    if ("versioning" in qs and method in ("GET", "PUT")) or ("tagging" in qs and method in ("PUT", "DELETE")):
        try:
            b = res.backend.get_bucket(bucket)
        except MissingBucket:
            return None  # moto answers NoSuchBucket itself
        st = _state(b)
        if "versioning" in qs:
            return _versioning(res, method, bucket, b, st)
        if st["abac"] == "Enabled":
            # With ABAC enabled, bucket tags can only be changed through S3
            # Control TagResource/UntagResource; PutBucketTagging and
            # DeleteBucketTagging "no longer work" (S3 User Guide, "Enabling ABAC
            # in general purpose buckets"). The error code is not documented;
            # AccessDenied is our reading of it.
            return _error(403, "AccessDenied", "Bucket tags of a bucket with ABAC enabled must be "
                          "changed with TagResource and UntagResource", bucket)
        return None

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
    if meta:
        return _metadata(method, res, bucket, b, st, meta)
    if "requestPayment" in qs and method in ("GET", "PUT"):
        return _simple_value(method, res, bucket, st, "requestPayment", "RequestPaymentConfiguration",
                             "Payer", ("BucketOwner", "Requester"))
    if "abac" in qs and method in ("GET", "PUT"):
        return _simple_value(method, res, bucket, st, "abac", "AbacStatus", "Status",
                             ("Enabled", "Disabled"))
    return _error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket)


# ------------------------------------------------------- S3 Metadata tables
# There is no S3 Tables here, so no table is created: a configuration is kept
# and answered with the result shapes of the S3 API reference, its tables
# ACTIVE at once. The codes a bucket without a configuration gets are the ones
# real S3 answers (docs/s3-conformance.md).
META_NOT_FOUND = {"metadataConfiguration": "MetadataConfigurationNotFound"}
V1_NAMESPACE = "aws_s3_metadata"  # where V1 puts its table in the customer's table bucket


def _find(root, name):
    return None if root is None else next((c for c in root if _local(c.tag) == name), None)


def _metadata_create(res, b, api):
    """The stored form of a Create(Bucket)Metadata(Table)Configuration body, or None if invalid."""
    # conformance: s3-metadata-v2, s3-metadata-v1
    import uuid

    v2 = api == "metadataConfiguration"
    parsed = _parse(res.body, "MetadataConfiguration" if v2 else "MetadataTableConfiguration")
    if parsed is None:
        return None
    root = parsed[0]
    if v2:
        # V2 tables live in the AWS managed table bucket aws-s3, namespace b_<bucket>.
        expiration = _find(_find(root, "JournalTableConfiguration"), "RecordExpiration")
        if expiration is None or _child_text(expiration, "Expiration") not in ("ENABLED", "DISABLED"):
            return None
        table_bucket = f"arn:aws:s3tables:{b.region_name}:{b.account_id}:bucket/aws-s3"
        inventory = _find(root, "InventoryTableConfiguration")
        return {
            "version": 2, "table_bucket_arn": table_bucket, "table_bucket_type": "aws",
            "namespace": f"b_{b.name}", "journal_name": "journal",
            "journal_arn": f"{table_bucket}/table/{uuid.uuid4()}",
            "expiration": _child_text(expiration, "Expiration"), "days": _child_text(expiration, "Days"),
            "inventory_state": _child_text(inventory, "ConfigurationState") if inventory is not None else None,
            "inventory_arn": f"{table_bucket}/table/{uuid.uuid4()}",
        }
    dest = _find(root, "S3TablesDestination")
    table_bucket, name = _child_text(dest, "TableBucketArn"), _child_text(dest, "TableName")
    if dest is None or not table_bucket or not name:
        return None
    return {
        "version": 1, "table_bucket_arn": table_bucket, "table_bucket_type": "customer",
        "namespace": V1_NAMESPACE, "journal_name": name, "journal_arn": f"{table_bucket}/table/{uuid.uuid4()}",
    }


def _metadata_v2_result(cfg):
    # GetBucketMetadataConfiguration answers for V1 configurations too (its
    # documented behaviour): their journal table without record expiration.
    e = escape
    parts = [
        f'<GetBucketMetadataConfigurationResult xmlns="{NS}"><MetadataConfigurationResult>',
        f"<DestinationResult><TableBucketType>{cfg['table_bucket_type']}</TableBucketType>"
        f"<TableBucketArn>{e(cfg['table_bucket_arn'])}</TableBucketArn>"
        f"<TableNamespace>{e(cfg['namespace'])}</TableNamespace></DestinationResult>",
        f"<JournalTableConfigurationResult><TableStatus>ACTIVE</TableStatus>"
        f"<TableName>{e(cfg['journal_name'])}</TableName><TableArn>{e(cfg['journal_arn'])}</TableArn>",
    ]
    if cfg.get("expiration"):
        days = f"<Days>{e(cfg['days'])}</Days>" if cfg.get("days") else ""
        parts.append(f"<RecordExpiration><Expiration>{cfg['expiration']}</Expiration>{days}</RecordExpiration>")
    parts.append("</JournalTableConfigurationResult>")
    if cfg.get("inventory_state"):
        parts.append(f"<InventoryTableConfigurationResult><ConfigurationState>{e(cfg['inventory_state'])}</ConfigurationState>")
        if cfg["inventory_state"] == "ENABLED":
            parts.append(f"<TableStatus>ACTIVE</TableStatus><TableName>inventory</TableName>"
                         f"<TableArn>{e(cfg['inventory_arn'])}</TableArn>")
        parts.append("</InventoryTableConfigurationResult>")
    parts.append("</MetadataConfigurationResult></GetBucketMetadataConfigurationResult>")
    return "".join(parts)


def _metadata_v1_result(cfg):
    e = escape
    return (
        f'<GetBucketMetadataTableConfigurationResult xmlns="{NS}"><MetadataTableConfigurationResult>'
        f"<S3TablesDestinationResult><TableBucketArn>{e(cfg['table_bucket_arn'])}</TableBucketArn>"
        f"<TableName>{e(cfg['journal_name'])}</TableName><TableArn>{e(cfg['journal_arn'])}</TableArn>"
        f"<TableNamespace>{e(cfg['namespace'])}</TableNamespace></S3TablesDestinationResult>"
        "</MetadataTableConfigurationResult><Status>ACTIVE</Status></GetBucketMetadataTableConfigurationResult>"
    )


def _metadata(method, res, bucket, b, st, api):
    """POST (create), GET and DELETE of ?metadataConfiguration (V2) and ?metadataTable (V1)."""
    # conformance: s3-metadata-v2, s3-metadata-v2-not-found, s3-metadata-v1, s3-metadata-v1-on-v2, s3-metadata-v1-not-allowed
    cfg = st.get("metadata")
    if method == "POST":
        cfg = _metadata_create(res, b, api)
        if cfg is None:
            return _error(400, "MalformedXML", "The XML you provided was not well-formed "
                          "or did not validate against our published schema", bucket)
        # Real S3 refuses a second configuration until the first is deleted (with
        # an undocumented code); replacing it is enough for the tests here.
        st["metadata"] = cfg
        return 200, {}, ""
    if method not in ("GET", "DELETE"):
        return _error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket)
    if cfg is None:
        if api == "metadataTable":
            # A real account's fresh bucket answers the V1 Get with 405
            # V1APIsNotAllowed (CloudTrail, and a captured response): V1 is
            # closed to accounts that never used it. V1 configurations made
            # before that (created here through the V1 POST) still answer.
            return _error(405, "V1APIsNotAllowed", "The V1 GetBucketMetadataTableConfiguration API operation "
                          "isn't available for this account. Use the corresponding V2 "
                          "GetBucketMetadataConfiguration API operation instead.", bucket)
        return _error(404, META_NOT_FOUND[api], "The metadata configuration was not found", bucket)
    if api == "metadataTable" and cfg["version"] == 2:
        # Documented: the V1 operations answer 405 for a V2 configuration.
        return _error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket)
    if method == "DELETE":
        st["metadata"] = None
        return 204, {}, ""
    return _xml(_metadata_v2_result(cfg) if api == "metadataConfiguration" else _metadata_v1_result(cfg))


# ------------------------------------------------------- S3 replication
# moto's GetBucketReplication rebuilds each rule from ID, Priority, Status and
# Destination only: it answers Filter {Prefix: ""} and DeleteMarkerReplication
# Disabled whatever was put, and drops SourceSelectionCriteria and
# ExistingObjectReplication. Real S3 returns the rules as written, so we keep
# the document moto accepted (its checks, such as versioning, still apply)
# and answer GET with it while moto still has a configuration.


def _remember_replication(res, bucket_name):
    # conformance: s3-replication-document
    b = res.backend.get_bucket(bucket_name)
    parsed = _parse(res.body, "ReplicationConfiguration")
    if parsed is None or not b.replication:
        return
    root = parsed[0]
    ns = root.tag[: len(root.tag) - len(_local(root.tag))]  # "{uri}" or ""
    rules = [el for el in root if _local(el.tag) == "Rule"]
    for el, rule in zip(rules, b.replication["Rule"]):
        if _child_text(el, "ID") is None:  # moto generated one; real S3 does too
            ET.SubElement(el, ns + "ID").text = rule["ID"]
    kwargs = {"default_namespace": ns[1:-1]} if ns else {}
    _state(b)["replication"] = ET.tostring(root, encoding="unicode", **kwargs)


def _replication_get(res, bucket_name):
    """The stored document, or None to let moto answer (404 when there is none)."""
    # conformance: s3-replication-document
    from moto.s3.exceptions import MissingBucket

    try:
        b = res.backend.get_bucket(bucket_name)
    except MissingBucket:
        return None
    doc = _state(b).get("replication")
    return _xml(doc) if doc and b.replication else None


def patch_s3():
    # conformance: s3-request-payment, s3-abac-status, s3-abac-refuses-bucket-tagging, s3-id-configurations, s3-versioning-mfa-delete, s3-metadata-v2, s3-metadata-v1, s3-unknown-delete-subresource
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


# ------------------------------------------------------------- S3 ACL rules

ACL_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _acl_grantees(acl):
    return [g for grant in (acl.grants if acl else []) for g in grant.grantees]


def _acl_owner_only(acl):
    from moto.s3.models import OWNER

    return all(g.id == OWNER and not g.uri for g in _acl_grantees(acl))


def _acl_rule_error(res, request, bucket, qs):
    """The error real S3 gives for an ACL or ownership write, or None."""
    # conformance: s3-acl-owner-enforced, s3-acl-block-public-acls, s3-account-block-public-acls, s3-ownership-enforced-with-grants
    if "acl" in qs:
        try:
            acl = res._acl_from_headers(request.headers) or res._acl_from_body()
        except Exception:  # malformed: moto itself answers with the right error
            return None
        if bucket.ownership_rule == "BucketOwnerEnforced":
            # Every ACL write, even a private one, is refused: the User
            # Guide's object-ownership error table lists
            # AccessControlListNotSupported for PutBucketAcl without an
            # owner-only exception.
            return _error(400, "AccessControlListNotSupported", "The bucket does not allow ACLs", bucket.name)
        if _blocks_public(bucket, "block_public_acls") and any(g.uri in ACL_PUBLIC_GROUPS for g in _acl_grantees(acl)):
            return _error(403, "AccessDenied", "Access Denied", bucket.name)
    if "ownershipControls" in qs:
        try:
            rule = res._ownership_rule_from_body()
        except Exception:
            return None
        if rule == "BucketOwnerEnforced" and not _acl_owner_only(bucket.acl):
            return _error(400, "InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set "
                          "with ObjectOwnership's BucketOwnerEnforced setting", bucket.name)
    return None


def patch_s3_acl_rules():
    # conformance: s3-acl-owner-enforced, s3-acl-block-public-acls, s3-account-block-public-acls, s3-ownership-enforced-with-grants
    # moto stores ownership controls, Block Public Access and bucket ACLs but
    # enforces none of the rules that tie them together, so writing them in the
    # wrong order goes unnoticed. Real S3 (see
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html
    # and .../access-control-block-public-access.html):
    #   - PutBucketAcl on a BucketOwnerEnforced bucket: 400 AccessControlListNotSupported,
    #     whatever the ACL, even private;
    #   - PutBucketAcl granting AllUsers/AuthenticatedUsers while BlockPublicAcls
    #     (the bucket's or the account's): 403 AccessDenied;
    #   - PutBucketOwnershipControls BucketOwnerEnforced while the ACL grants to
    #     anyone but the owner: 400 InvalidBucketAclWithObjectOwnership.
    from moto.s3.exceptions import MissingBucket
    from moto.s3.responses import S3Response

    orig_put = S3Response._bucket_response_put

    def put(self, request, bucket_name, querystring):
        if "acl" in querystring or "ownershipControls" in querystring:
            try:
                bucket = self.backend.get_bucket(bucket_name)
            except MissingBucket:
                bucket = None
            out = _acl_rule_error(self, request, bucket, querystring) if bucket else None
            if out is not None:
                return out
        return orig_put(self, request, bucket_name, querystring)

    S3Response._bucket_response_put = put


def patch_s3_acl_listing():
    # conformance: s3-acl-one-grant-per-permission
    # moto keeps a canned ACL's grant as one grant with several permissions
    # (log-delivery-write: LogDelivery WRITE and READ_ACP) and an x-amz-grant-*
    # header as one grant with several grantees, but GetBucketAcl/GetObjectAcl
    # list only the first of each. Real S3 lists one grant per grantee and
    # permission.
    from moto.s3.models import FakeAcl, FakeGrant
    from moto.s3.responses import S3Response

    orig = S3Response._acl_to_dict

    def acl_to_dict(acl):
        flat = [FakeGrant([g], [p]) for grant in acl.grants for g in grant.grantees for p in grant.permissions]
        return orig(FakeAcl(flat))

    S3Response._acl_to_dict = staticmethod(acl_to_dict)


# ------------------------------------- S3 lifecycle, logging, notifications

LIFECYCLE_MIN_SIZE_HEADER = "x-amz-transition-default-minimum-object-size"
LIFECYCLE_MIN_SIZES = ("all_storage_classes_128K", "varies_by_storage_class")


def _bucket_or_none(res, bucket_name):
    from moto.s3.exceptions import MissingBucket

    try:
        return res.backend.get_bucket(bucket_name)
    except MissingBucket:
        return None


def _as_text(body):
    return body.decode("utf-8") if isinstance(body, bytes) else (body or "")


def _lifecycle(res, orig, method, request, bucket_name, qs):
    # conformance: s3-lifecycle-document, s3-lifecycle-min-object-size
    # moto parses lifecycle rules into a model that has no ObjectSizeGreaterThan
    # / ObjectSizeLessThan (in Filter or And) nor NoncurrentVersionExpiration's
    # NewerNoncurrentVersions, and GET always reports
    # TransitionDefaultMinimumObjectSize all_storage_classes_128K. moto still
    # validates and stores the rules (its errors are S3's); we keep the
    # document as sent, which real S3 echoes back, and the header S3 stores
    # with it (absent means all_storage_classes_128K, S3's default since 2024).
    bucket = _bucket_or_none(res, bucket_name)
    if bucket is None:
        return orig()
    st = _state(bucket)
    if method == "PUT":
        size = request.headers.get(LIFECYCLE_MIN_SIZE_HEADER) or LIFECYCLE_MIN_SIZES[0]
        if size not in LIFECYCLE_MIN_SIZES:
            return _error(400, "InvalidArgument", f"Invalid {LIFECYCLE_MIN_SIZE_HEADER}: {size}", bucket_name)
        out = orig()
        if isinstance(out, tuple) and out[0] >= 300:
            return out
        parsed = _parse(res.body, "LifecycleConfiguration")
        if parsed is not None:
            st["lifecycle"] = (re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", parsed[1]).strip(), size)
        return 200, {LIFECYCLE_MIN_SIZE_HEADER: size}, ""
    if method == "DELETE":
        st.pop("lifecycle", None)
        return orig()
    stored = st.get("lifecycle")
    if not bucket.rules or stored is None:
        return orig()
    return 200, {"content-type": "application/xml", LIFECYCLE_MIN_SIZE_HEADER: stored[1]}, XML_DECL + stored[0]


def _logging_key_format(text):
    """The TargetObjectKeyFormat element of a BucketLoggingStatus, validated.

    Returns (fragment or None, error response or None)."""
    m = re.search(r"<TargetObjectKeyFormat\b.*?(?:/>|</TargetObjectKeyFormat>)", text, re.S)
    if not m:
        return None, None
    try:
        elem = ET.fromstring(m.group(0))
    except ET.ParseError:
        return None, "MalformedXML"
    kinds = [_local(c.tag) for c in elem]
    if len(kinds) != 1 or kinds[0] not in ("SimplePrefix", "PartitionedPrefix"):
        return None, "MalformedXML"
    if kinds[0] == "PartitionedPrefix":
        source = _child_text(elem[0], "PartitionDateSource")
        if source not in (None, "EventTime", "DeliveryTime"):
            return None, "MalformedXML"
    return m.group(0), None


def _logging(res, orig, method, bucket_name):
    # conformance: s3-logging-key-format
    # moto drops LoggingEnabled.TargetObjectKeyFormat (SimplePrefix or
    # PartitionedPrefix with PartitionDateSource); real S3 stores and returns it.
    bucket = _bucket_or_none(res, bucket_name)
    if bucket is None:
        return orig()
    st = _state(bucket)
    if method == "PUT":
        fragment, code = _logging_key_format(_as_text(res.body))
        if code:
            return _error(400, code, "The XML you provided was not well-formed "
                          "or did not validate against our published schema", bucket_name)
        out = orig()
        if isinstance(out, tuple) and out[0] >= 300:
            return out
        st["loggingKeyFormat"] = fragment if bucket.logging else None
        return out
    out = orig()
    fragment = st.get("loggingKeyFormat")
    if not (fragment and bucket.logging and isinstance(out, tuple) and out[0] == 200):
        return out
    status, headers, body = out
    return status, headers, _as_text(body).replace("</LoggingEnabled>", fragment + "</LoggingEnabled>", 1)


def _notification_target_missing(kind, arn):
    """Whether a notification target named in a PUT does not exist."""
    parts = arn.split(":")
    if len(parts) < 6:
        return True
    region, account = parts[3], parts[4]
    try:
        if kind == "Queue":
            from moto.sqs.models import sqs_backends

            return parts[5] not in sqs_backends[account][region].queues
        if kind == "Topic":
            from moto.sns.models import sns_backends

            return arn not in sns_backends[account][region].topics
        from moto.awslambda.models import lambda_backends

        lambda_backends[account][region].get_function(arn)
        return False
    except Exception:
        return True


NOTIFY_ACTIONS = {"Queue": "sqs:sendmessage", "Topic": "sns:publish", "CloudFunction": "lambda:invokefunction"}


def _target_policy(kind, arn):
    """The resource policy (a dict) of an existing notification target, or None."""
    import json

    parts = arn.split(":")
    region, account = parts[3], parts[4]
    try:
        if kind == "Queue":
            from moto.sqs.models import sqs_backends

            text = sqs_backends[account][region].queues[parts[5]].policy
        elif kind == "Topic":
            from moto.sns.models import sns_backends

            text = sns_backends[account][region].topics[arn].policy
        else:
            from moto.awslambda.models import lambda_backends

            text = json.loads(lambda_backends[account][region].get_policy(arn))["Policy"]
        return json.loads(text) if text else None
    except Exception:
        return None


def _policy_admits_s3(kind, arn, bucket):
    """Whether the target's resource policy lets S3 deliver bucket's events to it.

    An Allow for the s3.amazonaws.com service principal (or everyone) of the
    publish action, whose aws:SourceArn / aws:SourceAccount / aws:SourceOwner
    conditions, if any, match the bucket (User Guide, "Granting permissions
    to publish event notification messages to a destination")."""
    import fnmatch

    doc = _target_policy(kind, arn)
    if not doc:
        return False
    want = NOTIFY_ACTIONS[kind]
    for st in _as_list(doc.get("Statement", [])):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        aws = _as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
        if not (principal == "*" or "*" in aws or "s3.amazonaws.com" in services):
            continue
        actions = [a.lower() for a in _as_list(st.get("Action", []))]
        if not any(a == "*" or a == want or a == want.split(":")[0] + ":*" for a in actions):
            continue
        ok = True
        for values in (st.get("Condition") or {}).values():
            for key, value in (values.items() if isinstance(values, dict) else []):
                key, vals = key.lower(), [str(v) for v in _as_list(value)]
                if key == "aws:sourcearn":
                    ok = ok and any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket.name}", v) for v in vals)
                elif key in ("aws:sourceaccount", "aws:sourceowner"):
                    ok = ok and bucket.account_id in vals
        if ok:
            return True
    return False


def _notifications(res, orig, method, bucket_name):
    # Two gaps in moto: GetBucketNotificationConfiguration never returns
    # EventBridgeConfiguration (though PUT accepts and keeps it), and PUT does
    # not check that SQS queues, SNS topics and Lambda functions exist. Real S3
    # answers 400 InvalidArgument "Unable to validate the following destination
    # configurations" for a target it cannot reach or whose resource policy
    # does not let S3 publish from this bucket.
    # conformance: s3-notification-target-exists, s3-notification-target-policy, s3-notification-eventbridge
    bucket = _bucket_or_none(res, bucket_name)
    if bucket is None:
        return orig()
    if method == "PUT":
        text = _as_text(res.body)
        for kind in ("Queue", "Topic", "CloudFunction"):
            for arn in re.findall(rf"<{kind}>\s*([^<]*?)\s*</{kind}>", text):
                if arn.split(":")[3:4] != [bucket.region_name]:
                    continue
                if _notification_target_missing(kind, arn):
                    return _error(400, "InvalidArgument",
                                  f"Unable to validate the following destination configurations: {arn}",
                                  bucket_name)
                if not _policy_admits_s3(kind, arn, bucket):
                    return _error(400, "InvalidArgument",
                                  f"Unable to validate the following destination configurations: {arn}: "
                                  "Permissions on the destination do not allow S3 to publish notifications "
                                  "from this bucket", bucket_name)
        return orig()
    out = orig()
    config = bucket.notification_configuration
    if not (config and config.event_bridge is not None and isinstance(out, tuple) and out[0] == 200):
        return out
    status, headers, body = out
    text = _as_text(body)
    eb = "<EventBridgeConfiguration></EventBridgeConfiguration>"
    if "</NotificationConfiguration>" in text:
        text = text.replace("</NotificationConfiguration>", eb + "</NotificationConfiguration>", 1)
    else:
        text = re.sub(r"<NotificationConfiguration([^>]*?)\s*/>",
                      lambda m: f"<NotificationConfiguration{m.group(1)}>{eb}</NotificationConfiguration>",
                      text, count=1)
    return status, headers, text


def patch_s3_bucket_configs():
    # conformance: s3-lifecycle-document, s3-lifecycle-min-object-size, s3-logging-key-format, s3-notification-target-exists, s3-notification-target-policy, s3-notification-eventbridge
    from moto.s3.responses import S3Response

    orig_get = S3Response._bucket_response_get
    orig_put = S3Response._bucket_response_put
    orig_delete = S3Response._bucket_response_delete

    def get(self, bucket_name, qs):
        def orig():
            return orig_get(self, bucket_name, qs)
        if "lifecycle" in qs:
            return _lifecycle(self, orig, "GET", None, bucket_name, qs)
        if "logging" in qs:
            return _logging(self, orig, "GET", bucket_name)
        if "notification" in qs:
            return _notifications(self, orig, "GET", bucket_name)
        return orig()

    def put(self, request, bucket_name, qs):
        def orig():
            return orig_put(self, request, bucket_name, qs)
        if "lifecycle" in qs:
            return _lifecycle(self, orig, "PUT", request, bucket_name, qs)
        if "logging" in qs:
            return _logging(self, orig, "PUT", bucket_name)
        if "notification" in qs:
            return _notifications(self, orig, "PUT", bucket_name)
        return orig()

    def delete(self, bucket_name, qs):
        def orig():
            return orig_delete(self, bucket_name, qs)
        if "lifecycle" in qs:
            return _lifecycle(self, orig, "DELETE", None, bucket_name, qs)
        return orig()

    S3Response._bucket_response_get = get
    S3Response._bucket_response_put = put
    S3Response._bucket_response_delete = delete


def patch_s3_replication_and_metadata():
    # conformance: s3-replication-document, s3-metadata-v2, s3-metadata-v1
    from moto.s3.responses import S3Response

    orig_get = S3Response._bucket_response_get
    orig_put = S3Response._bucket_response_put
    orig_post = S3Response._bucket_response_post

    def get(self, bucket_name, qs):
        out = _replication_get(self, bucket_name) if "replication" in qs else None
        return orig_get(self, bucket_name, qs) if out is None else out

    def put(self, request, bucket_name, qs):
        out = orig_put(self, request, bucket_name, qs)
        if "replication" in qs and not (isinstance(out, tuple) and out[0] >= 300):
            _remember_replication(self, bucket_name)
        return out

    def post(self, request, bucket_name):
        # CreateBucketMetadataConfiguration and CreateBucketMetadataTableConfiguration
        # are bucket POSTs, which moto takes for browser-form object uploads.
        qs = self._get_querystring(request, self.uri)
        if "metadataConfiguration" in qs or "metadataTable" in qs:
            return _handle_s3(self, "POST", bucket_name, qs)
        return orig_post(self, request, bucket_name)

    S3Response._bucket_response_get = get
    S3Response._bucket_response_put = put
    S3Response._bucket_response_post = post

# ------------------------------------------------ Region-scoped bucket listing
# Real S3 reports each bucket's Region in ListBuckets and the Resource Groups
# Tagging API lists a bucket only in its own Region; stock moto does neither
# (every Region's GetResources answers with every bucket, ListBuckets has no
# BucketRegion and no ContinuationToken). bucketmirror finds the Regions to
# search for sources from ListBuckets, so both must behave as S3 does.

LIST_BUCKETS_MAX = 10000  # MaxBuckets range 1..10,000; also the default page


def _list_buckets(res):
    # conformance: s3-list-buckets-paged
    # Query keys bucket-region, continuation-token, max-buckets and prefix,
    # and the response elements Buckets/Bucket/{BucketRegion,CreationDate,
    # Name}, ContinuationToken, Owner and Prefix, are those of the
    # aws-sdk-go-v2 s3 serializer and deserializer (v1.114.10:
    # awsRestxml_serializeOpHttpBindingsListBucketsInput,
    # awsRestxml_deserializeOpDocumentListBucketsOutput,
    # awsRestxml_deserializeDocumentBucket). Per the ListBuckets API
    # Reference, any of bucket-region, prefix or continuation-token without
    # max-buckets pages by 10,000 with a continuation token; a request with
    # none of them lists every bucket in one answer.
    qs = res.querystring
    first = lambda key: (qs.get(key) or [None])[0]
    region, prefix, token, max_raw = first("bucket-region"), first("prefix"), first("continuation-token"), first("max-buckets")
    paged = any(v is not None for v in (region, prefix, token, max_raw))
    page = LIST_BUCKETS_MAX
    if max_raw is not None:
        # Range 1..10,000 per the API Reference; the error code for a value
        # outside it is our guess (InvalidArgument is S3's code for a bad
        # parameter value).
        if not max_raw.isdigit() or not 1 <= int(max_raw) <= LIST_BUCKETS_MAX:
            return _error(400, "InvalidArgument", "max-buckets must be an integer from 1 to 10000", "")
        page = int(max_raw)
    after = ""
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except Exception:
            return _error(400, "InvalidArgument", "The continuation token provided is incorrect", "")
    # S3 answers in bucket name order, which is also what makes a name a
    # stable continuation point.
    buckets = sorted(res.backend.buckets.values(), key=lambda b: b.name)
    buckets = [b for b in buckets
               if (not prefix or b.name.startswith(prefix))
               and (not region or b.region_name == region)
               and b.name > after]
    next_token = None
    if paged and len(buckets) > page:
        buckets = buckets[:page]
        next_token = base64.urlsafe_b64encode(buckets[-1].name.encode()).decode()
    items = "".join(
        f"<Bucket><Name>{escape(b.name)}</Name><CreationDate>{b.creation_date_ISO8601}</CreationDate>"
        f"<BucketRegion>{escape(b.region_name)}</BucketRegion></Bucket>"
        for b in buckets)
    # conformance: s3-account-canonical-id
    # Owner is the requesting account (its canonical id), as for real S3.
    body = (f'<ListAllMyBucketsResult xmlns="{NS}"><Owner><ID>{canonical_id(res.current_account)}</ID>'
            f"<DisplayName>webfile</DisplayName></Owner><Buckets>{items}</Buckets>")
    if next_token:
        body += f"<ContinuationToken>{next_token}</ContinuationToken>"
    if prefix:
        body += f"<Prefix>{escape(prefix)}</Prefix>"
    body += "</ListAllMyBucketsResult>"
    return 200, {"Content-Type": "application/xml"}, XML_DECL + body


def patch_s3_list_buckets():
    # conformance: s3-list-buckets-paged
    from moto.s3.responses import S3Response

    def all_buckets(self):
        # moto's own authorisation hook, as its all_buckets calls it.
        self.data["Action"] = "ListAllMyBuckets"
        self._authenticate_and_authorize_s3_action()
        return _list_buckets(self)

    S3Response.all_buckets = all_buckets


def patch_tagging_bucket_region():
    # conformance: tagging-get-resources-bucket-region
    # GetResources "returns all the tagged or previously tagged resources
    # that are located in the specified Region for the account"
    # (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html):
    # a bucket is a resource of the Region it was created in, so it appears
    # in that Region's answer only. moto yields every bucket of the account
    # in every Region.
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend

    orig = ResourceGroupsTaggingAPIBackend._get_resources_generator

    def generator(self, *args, **kwargs):
        buckets = self.s3_backend.buckets
        for item in orig(self, *args, **kwargs):
            arn = item.get("ResourceARN", "")
            if arn.startswith("arn:aws:s3:::"):
                bucket = buckets.get(arn[len("arn:aws:s3:::"):])
                if bucket is not None and bucket.region_name != self.region_name:
                    continue
            yield item

    ResourceGroupsTaggingAPIBackend._get_resources_generator = generator


# ------------------------------------ Block Public Access, Region features

def _account_public_access_block(bucket):
    """The account-level Block Public Access (S3 Control PutPublicAccessBlock) of bucket's account, or None."""
    from moto.s3control.models import s3control_backends

    partition = "aws-us-gov" if bucket.region_name.startswith("us-gov-") else "aws"
    try:
        return s3control_backends[bucket.account_id][partition].public_access_block
    except Exception:
        return None


def _blocks_public(bucket, setting):
    """Whether the bucket's or its account's Block Public Access has setting on.

    S3 applies the most restrictive combination of the two levels
    (User Guide, "Blocking public access to your Amazon S3 storage")."""
    return any(pab is not None and getattr(pab, setting, False)
               for pab in (bucket.public_access_block, _account_public_access_block(bucket)))


# Condition keys whose fixed values make an Allow for Principal "*" non-public
# (User Guide, "The meaning of 'public'").
NON_PUBLIC_CONDITION_KEYS = {
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount", "aws:sourceowner",
    "aws:sourceip", "aws:principalorgid", "aws:principalaccount", "aws:principalarn", "aws:userid",
    "aws:principalorgpaths", "aws:principalservicename", "s3:dataaccesspointarn", "s3:dataaccesspointaccount",
}
WIDE_CIDRS = {"0.0.0.0/0", "::/0"}


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _statement_is_public(stmt):
    if stmt.get("Effect") != "Allow":
        return False
    if "NotPrincipal" in stmt:
        return True
    principal = stmt.get("Principal")
    wildcard = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", [])))
    if not wildcard:
        return False
    for values in (stmt.get("Condition") or {}).values():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            fixed = [str(x) for x in _as_list(value)]
            if key.lower() in NON_PUBLIC_CONDITION_KEYS and fixed and not any(
                    "*" in x or "?" in x or x in WIDE_CIDRS for x in fixed):
                return False
    return True


def _policy_is_public(text):
    import json

    try:
        doc = json.loads(text)
    except ValueError:
        return False  # moto answers MalformedPolicy itself
    return any(isinstance(st, dict) and _statement_is_public(st) for st in _as_list(doc.get("Statement", [])))


def _bpa_policy_error(res, bucket_name):
    """PutBucketPolicy of a public policy while BlockPublicPolicy is on: 403 AccessDenied."""
    # conformance: s3-bpa-block-public-policy, s3-account-block-public-policy
    bucket = _bucket_or_none(res, bucket_name)
    if bucket is None or not _blocks_public(bucket, "block_public_policy"):
        return None
    if _policy_is_public(_as_text(res.body)):
        return _error(403, "AccessDenied", "Access Denied", bucket_name)
    return None


# Bucket subresources some Regions do not offer, and what S3 answers there:
# the configured set of Regions without a feature (docs/s3-conformance.md,
# "Regions without a feature"). Each gap is (query key, HTTP methods or None
# for every method, Regions, answer). BUCKETMIRROR_LOCALCLOUD_REGION_GAPS
# (JSON list of {"subresource", "methods", "regions", "code"}) adds gaps at
# start, so that a test can give a Region a gap real S3 is not known to have
# (e.g. a write refused where the read answers) without the defaults
# claiming it.
NOT_ALLOWED = (405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
UNSUPPORTED = (400, "UnsupportedArgument", "The request contained an unsupported argument.")
NOT_IMPLEMENTED = (501, "NotImplemented", "A header you provided implies functionality that is not implemented.")
ANSWERS = {a[1]: a for a in (NOT_ALLOWED, UNSUPPORTED, NOT_IMPLEMENTED)}
GOV_REGIONS = ("us-gov-west-1", "us-gov-east-1")
REGION_GAPS = [
    # Transfer Acceleration: 405 in commercial Regions without it (af-south-1,
    # eu-south-2, ...), 400 UnsupportedArgument in GovCloud.
    ("accelerate", None, ("af-south-1", "eu-south-2"), NOT_ALLOWED),
    ("accelerate", None, GOV_REGIONS, UNSUPPORTED),
    # S3 Metadata is offered only in the Regions the User Guide lists (no
    # GovCloud Region in any version of the list); ABAC needs S3 Control
    # tagging, which answers MethodNotAllowed outside the commercial
    # partition. The code these two answer there is unverified.
    ("metadataConfiguration", None, GOV_REGIONS, NOT_ALLOWED),
    ("metadataTable", None, GOV_REGIONS, NOT_ALLOWED),
    ("abac", None, GOV_REGIONS, NOT_ALLOWED),
]
# Regions where CreateBucket refuses CreateBucketConfiguration/Tags (no
# tag-on-create): 400 UnsupportedArgument.
CREATE_TAGS_GAP_REGIONS = set(GOV_REGIONS)


def _configured_gaps():
    import os

    raw = os.environ.get("BUCKETMIRROR_LOCALCLOUD_REGION_GAPS", "")
    if not raw:
        return
    for gap in json.loads(raw):
        methods = tuple(m.upper() for m in gap["methods"]) if gap.get("methods") else None
        REGION_GAPS.append((gap["subresource"], methods, tuple(gap["regions"]), ANSWERS[gap["code"]]))


def _region_unavailable(res, bucket_name, qs, method):
    # conformance: s3-accelerate-not-in-region, s3-accelerate-not-in-partition, s3-feature-not-in-region
    for key, methods, regions, answer in REGION_GAPS:
        if key in qs and (methods is None or method in methods):
            bucket = _bucket_or_none(res, bucket_name)
            if bucket is not None and bucket.region_name in regions:
                return _error(answer[0], answer[1], answer[2], bucket_name)
    return None


def patch_s3_conformance():
    # Installed last, so it sees a request before every other patch.
    # conformance: s3-bpa-block-public-policy, s3-account-block-public-policy, s3-accelerate-not-in-region, s3-accelerate-not-in-partition, s3-feature-not-in-region
    from moto.s3.responses import S3Response

    orig_get = S3Response._bucket_response_get
    orig_put = S3Response._bucket_response_put
    orig_delete = S3Response._bucket_response_delete
    orig_post = S3Response._bucket_response_post

    def get(self, bucket_name, qs):
        return _region_unavailable(self, bucket_name, qs, "GET") or orig_get(self, bucket_name, qs)

    def put(self, request, bucket_name, qs):
        out = _region_unavailable(self, bucket_name, qs, "PUT")
        if out is None and "policy" in qs:
            out = _bpa_policy_error(self, bucket_name)
        return out or orig_put(self, request, bucket_name, qs)

    def delete(self, bucket_name, qs):
        return _region_unavailable(self, bucket_name, qs, "DELETE") or orig_delete(self, bucket_name, qs)

    def post(self, request, bucket_name):
        qs = self._get_querystring(request, self.uri)
        return _region_unavailable(self, bucket_name, qs, "POST") or orig_post(self, request, bucket_name)

    S3Response._bucket_response_get = get
    S3Response._bucket_response_put = put
    S3Response._bucket_response_delete = delete
    S3Response._bucket_response_post = post


def patch_s3_create_bucket_tags():
    """CreateBucket with CreateBucketConfiguration/Tags tags the new bucket.

    Real S3 (since 2025) takes a bucket's tags in the CreateBucket request
    itself, authorised by s3:TagResource ("An array of tags that you can apply
    to the bucket that you're creating", API Reference, CreateBucketConfiguration:
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucketConfiguration.html);
    moto 5.2.1 reads only LocationConstraint from the body and drops them.
    Shape as aws-sdk-go-v2 s3 v1.114.10 serializes it
    (awsRestxml_serializeDocumentCreateBucketConfiguration):
    <CreateBucketConfiguration><Tags><Tag><Key/><Value/></Tag>...</Tags>.
    Tags are applied only when the request created the bucket, never to a
    bucket that already existed (us-east-1 answers that CreateBucket with 200).
    """
    from moto.s3.responses import S3Response

    orig_put = S3Response._bucket_response_put

    def put(self, request, bucket_name, qs):
        # conformance: create-bucket-tags
        if qs or not self.body:
            return orig_put(self, request, bucket_name, qs)
        try:
            root = ET.fromstring(_as_text(self.body))
        except ET.ParseError:
            return orig_put(self, request, bucket_name, qs)
        region = root.findtext(f"{{{NS}}}LocationConstraint") or root.findtext("LocationConstraint") or "us-east-1"
        has_tags = root.find(f"{{{NS}}}Tags") is not None or root.find("Tags") is not None
        if has_tags and region in CREATE_TAGS_GAP_REGIONS:
            # conformance: create-bucket-tags-not-in-region
            return _error(*UNSUPPORTED, bucket_name)
        existed = bucket_name in self.backend.buckets
        out = orig_put(self, request, bucket_name, qs)
        if existed or (isinstance(out, tuple) and out[0] >= 300):
            return out
        tags = {}
        for tag in root.findall(f"{{{NS}}}Tags/{{{NS}}}Tag") + root.findall("Tags/Tag"):
            key = tag.findtext(f"{{{NS}}}Key") or tag.findtext("Key")
            value = tag.findtext(f"{{{NS}}}Value") or tag.findtext("Value") or ""
            if key:
                tags[key] = value
        if tags:
            self.backend.put_bucket_tagging(bucket_name, tags)
        return out

    S3Response._bucket_response_put = put


# ------------------------------------------------------------------ Accounts
# Real S3 names an account in ACLs by its canonical user id, "an obfuscated
# form of the AWS account ID" of 64 hex digits
# (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html).
# moto gives every account the same one (moto.s3.models.OWNER) and answers
# ListBuckets with a 32-digit id of no account, so a copy into another
# account could not tell the source's owner from the destination's. moto
# keeps storing OWNER for "the bucket's owner"; the wire carries the owning
# account's own id, both ways.


def canonical_id(account):
    """The local cloud's canonical user id of account: deterministic, 64 hex."""
    return hashlib.sha256(("bucketmirror-local-canonical-user:" + account).encode()).hexdigest()


def _bucket_account(res, bucket_name):
    """The account owning bucket_name (moto lets other accounts reach it)."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket_name)
    return owner[1] if owner else res.current_account


def _acl_owner_from_wire(res, acl):
    # A grant to the owning account's canonical id is a grant to the owner.
    from moto.s3.models import OWNER

    if acl is None or not getattr(res, "bucket_name", None):
        return acl
    own = canonical_id(_bucket_account(res, res.bucket_name))
    for grant in acl.grants:
        for g in grant.grantees:
            if g.id == own:
                g.id = OWNER
    return acl


def _acl_owner_to_wire(res, out):
    from moto.s3.models import OWNER

    own = canonical_id(_bucket_account(res, res.bucket_name))
    return out.replace(OWNER.encode() if isinstance(out, bytes) else OWNER, own.encode() if isinstance(out, bytes) else own)


def patch_s3_account_canonical_ids():
    # conformance: s3-account-canonical-id
    from moto.s3.responses import S3Response

    orig_body, orig_headers = S3Response._acl_from_body, S3Response._acl_from_headers
    orig_get_bucket, orig_get_object = S3Response.get_bucket_acl, S3Response.get_object_acl

    def acl_from_body(self):
        return _acl_owner_from_wire(self, orig_body(self))

    def acl_from_headers(self, headers):
        return _acl_owner_from_wire(self, orig_headers(self, headers))

    def wire(orig):
        def get(self):
            status, headers, body = orig(self)
            return status, headers, _acl_owner_to_wire(self, body)
        return get

    S3Response._acl_from_body = acl_from_body
    S3Response._acl_from_headers = acl_from_headers
    S3Response.get_bucket_acl = wire(orig_get_bucket)
    S3Response.get_object_acl = wire(orig_get_object)


# ------------------------------------------------------------ STS AssumeRole
# moto's AssumeRole hands out credentials for any role ARN, existing or not
# ("the role does not need to exist", moto/sts/models.py). Real STS answers
# 403 AccessDenied when the role is missing, with the same message as when
# its trust policy does not admit the caller, so a member account without
# bucketmirror's member role must fail here as it fails in AWS.

_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):role/(?:[^/]+/)*([^/]+)$")


# A role that exists is assumed only when its trust policy admits the caller
# (STS API Reference, AssumeRole: the trust policy and ExternalId). Trust is
# evaluated for what bucketmirror's roles and the Organization's roles use:
# an Allow of sts:AssumeRole whose AWS principal is "*", the caller's
# account (id or :root) or the caller's own ARN, under StringEquals
# conditions on sts:ExternalId, aws:PrincipalAccount and aws:PrincipalOrgID
# (the Organization of the caller's account) and ArnLike/StringLike on
# aws:PrincipalArn (for a role session the role's ARN, IAM User Guide,
# "AWS global condition context keys"); a statement with any other condition
# key or operator does not admit (unknown = not trusted).


def _caller_arns(res):
    from moto.sts.models import sts_backends

    backend = sts_backends[res.current_account][res.partition]
    _, arn, account = backend.get_caller_identity(res.get_access_key(), res.region)
    arns = {arn}
    m = re.match(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", arn)
    if m:
        arns.add(f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}")
    return account, arn, arns


def _principal_arn(arn):
    # aws:PrincipalArn of a role session is the role's ARN, not the session's.
    m = re.match(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", arn)
    return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}" if m else arn


def _org_id(account, partition):
    # conformance: sts-assume-role-trust
    from moto.organizations.models import organizations_backends

    try:
        return organizations_backends[account][partition].describe_organization()["Organization"]["Id"]
    except Exception:  # not in an Organization: the key is absent, nothing equals it
        return None


def _condition_admits(op, key, want, context):
    have = context.get(key.lower())
    if have is None:
        return False
    if op == "StringEquals":
        return have in _as_list(want)
    if op in ("ArnLike", "StringLike") and key.lower() == "aws:principalarn":
        return any(fnmatch.fnmatchcase(have, w) for w in _as_list(want))
    return False


def _trust_admits(policy, account, arns, external_id, caller_arn=None, partition="aws"):
    try:
        doc = json.loads(policy) if isinstance(policy, str) else policy
    except ValueError:
        return False
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions = _as_list(st.get("Action", []))
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = st.get("Principal", {})
        aws_principals = _as_list(principal.get("AWS", [])) if isinstance(principal, dict) else _as_list(principal)
        if not any(p in ("*", account, f"arn:aws:iam::{account}:root") or p in arns for p in aws_principals):
            continue
        context = {"sts:externalid": external_id, "aws:principalaccount": account,
                   "aws:principalorgid": _org_id(account, partition),
                   "aws:principalarn": _principal_arn(caller_arn) if caller_arn else None}
        if all(_condition_admits(op, key, want, context)
               for op, conds in (st.get("Condition") or {}).items() for key, want in conds.items()):
            return True
    return False


def patch_sts_assume_role_missing_role():
    # conformance: sts-assume-role-missing-role, sts-assume-role-trust
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse

    orig = TokenResponse.assume_role

    def assume_role(self):
        # conformance: sts-assume-role-missing-role, sts-assume-role-trust
        role_arn = self._get_param("RoleArn") or ""
        m = _ROLE_ARN.match(role_arn)
        if m:
            partition, account, name = m.groups()
            role = next((r for r in iam_backends[account][partition].roles.values() if r.name == name), None)
            caller_account, caller, arns = _caller_arns(self)
            if role is None or not _trust_admits(role.assume_role_policy_document, caller_account, arns, self._get_param("ExternalId"),
                                                 caller, partition):
                message = f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                body = (
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
                    "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
                )
                # (body, headers with "status") is the shape moto's call_action
                # passes through for the errors its handlers raise.
                return body, {"status": 403, "Content-Type": "text/xml"}
        return orig(self)

    TokenResponse.assume_role = assume_role


def patch_dispatch_speed():
    # conformance: emulator-dispatch-cache
    # moto 5.2.1 redoes static work on every request (getmoto/moto, moto/):
    # - backends.py list_of_moto_modules() lists moto's package directory
    #   and stats each of its ~180 entries; werkzeug_app.py
    #   get_backend_for_host() calls it for every request, then matches the
    #   Host against every service's URL patterns;
    # - core/errors.py get_error_model() builds a new ErrorLookupFactory for
    #   every error response, so its per-service cache is never hit and the
    #   whole error table of the service model is rebuilt each time.
    # All three depend only on the installed moto and the Host string, so
    # the answers are computed once. Measured on this 2-core machine: moto's
    # CPU per S3 request 5.1 ms -> 3.7 ms (a round of ~45 concurrent reads is
    # served one after another by the one Python process).
    import moto.backends as backends
    from moto.core import errors
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    find_backend = DomainDispatcherApplication.get_backend_for_host
    by_host = {}

    def get_backend_for_host(self, host):
        backend = by_host.get(host)
        if backend is None:
            backend = find_backend(self, host)
            if backend is not None:  # a miss may print a hint: keep it
                by_host[host] = backend
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host

    error_tables = {}
    new_factory = errors.ErrorLookupFactory.__init__

    def init(self):
        new_factory(self)
        self._error_lut_cache = error_tables

    errors.ErrorLookupFactory.__init__ = init


def patch_listen_backlog():
    # conformance: emulator-listen-backlog
    # werkzeug's server listens with a backlog of 128 (werkzeug/serving.py
    # LISTEN_QUEUE, BaseWSGIServer.request_queue_size). A sweep reconciling
    # 16 sources at once opens hundreds of connections to moto in one burst;
    # past 128 the kernel logged "Possible SYN flooding on port <moto's
    # port>. Sending cookies." and connections were reset, failing the
    # calls on them. The kernel caps the backlog at net.core.somaxconn.
    from werkzeug import serving

    serving.BaseWSGIServer.request_queue_size = 4096


def main():
    patch_dispatch_speed()
    patch_listen_backlog()
    enable_sfn_execution()
    patch_sfn_deepcopy()
    patch_sfn_start_time()
    patch_sfn_definitions()
    patch_sfn_map_tolerance()
    patch_s3()
    patch_s3_acl_rules()
    patch_s3_acl_listing()
    patch_s3_bucket_configs()
    patch_s3_replication_and_metadata()
    _configured_gaps()
    patch_s3_conformance()
    patch_s3_create_bucket_tags()
    patch_s3_list_buckets()
    patch_tagging_bucket_region()
    patch_sts_assume_role_missing_role()
    patch_s3_account_canonical_ids()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
