package bucketconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// policyKind copies the bucket policy with every Resource and NotResource
// naming the source bucket (arn:aws:s3:::SOURCE, arn:aws:s3:::SOURCE/...)
// rewritten to the destination. Everything else is kept as written.
var policyKind = &spec[json.RawMessage]{
	name:         "policy",
	readActions:  []string{"s3:GetBucketPolicy"},
	writeActions: []string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*json.RawMessage, error) {
		out, err := e.s3(b).GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchBucketPolicy) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		doc, err := canonicalJSON([]byte(aws.ToString(out.Policy)))
		if err != nil {
			return nil, fmt.Errorf("bucket policy is not valid JSON: %w", err)
		}
		return &doc, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *json.RawMessage) error {
		_, err := e.s3(b).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &b.Name, Policy: aws.String(string(*v))})
		if Classify(err) == ClassDenied && PolicyIsPublic(*v) {
			// The bucket's own BlockPublicPolicy was copied from the
			// source before this write (catalog: BPA before policy), and
			// the source holds this public policy, so what still refuses
			// it is the destination account's Block Public Access (or an
			// SCP): name it, S3's "Access Denied" does not.
			account := e.accountOf(b)
			if account == "" {
				account = "of the destination"
			}
			return fmt.Errorf("the bucket policy is public and account %s blocks public policies "+
				"(account-level Block Public Access BlockPublicPolicy, set with S3 Control PutPublicAccessBlock; "+
				"check with `aws s3control get-public-access-block --account-id %s`), or an SCP denies it: "+
				"turn BlockPublicPolicy off for the account to mirror this public policy, or keep the source private: %w",
				account, e.accountOf(b), err)
		}
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &b.Name})
		return err
	},
	xform: func(_ context.Context, e *Engine, m Mirror, v *json.RawMessage) (*json.RawMessage, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		out, err := RewritePolicy(*v, m.Source.Name, m.Dest.Name)
		if err != nil {
			return nil, nil, err
		}
		out, notes, err := e.mapRegionBoundConditions(out, m)
		if err != nil {
			return nil, notes, err
		}
		notes = append(notes, e.sourceAccountGrants(out, m)...)
		return &out, notes, nil
	},
}

// sourceAccountGrants reports the statements of a policy copied into another
// account that name the source's account as principal: they are kept (the
// source account may well need the access — a recovery copy read back by
// its owner), but a copy must not grant another account access without
// anyone noticing, so each is named.
func (e *Engine) sourceAccountGrants(policy json.RawMessage, m Mirror) []Note {
	src, dst := e.accountOf(m.Source), e.accountOf(m.Dest)
	if src == "" || src == dst {
		return nil
	}
	var doc map[string]any
	if decodeJSON(policy, &doc) != nil {
		return nil
	}
	var notes []Note
	for i, st := range statementsOf(doc) {
		p, _ := st["Principal"].(map[string]any)
		for _, v := range stringsOf(p["AWS"]) {
			if v == src || strings.Contains(v, ":iam::"+src+":") || strings.Contains(v, ":sts::"+src+":") {
				sid, _ := st["Sid"].(string)
				if sid == "" {
					sid = fmt.Sprintf("#%d", i+1)
				}
				notes = append(notes, Note{Severity: SeverityInfo, Message: fmt.Sprintf(
					"policy statement %s grants the source's account %s (principal %s) access to the destination in account %s: kept as written; remove it from the source's policy if the copy must not grant it",
					sid, src, v, dst)})
				break
			}
		}
	}
	return notes
}

// PolicyIsPublic says whether a bucket policy is public in S3's sense: an
// Allow to Principal "*" (or with NotPrincipal) that no condition pins to
// fixed values of a non-public key. S3 User Guide, "The meaning of
// 'public'" (docs/s3-conformance.md, s3-bpa-block-public-policy).
func PolicyIsPublic(policy json.RawMessage) bool {
	var doc map[string]any
	if decodeJSON(policy, &doc) != nil {
		return false
	}
	for _, st := range statementsOf(doc) {
		if statementIsPublic(st) {
			return true
		}
	}
	return false
}

// nonPublicConditionKeys pin an Allow for "*" to fixed callers.
var nonPublicConditionKeys = map[string]bool{
	"aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true, "aws:sourceaccount": true,
	"aws:sourceowner": true, "aws:sourceip": true, "aws:principalorgid": true, "aws:principalaccount": true,
	"aws:principalarn": true, "aws:userid": true, "aws:principalorgpaths": true, "aws:principalservicename": true,
	"s3:dataaccesspointarn": true, "s3:dataaccesspointaccount": true,
}

func statementIsPublic(st map[string]any) bool {
	if st["Effect"] != "Allow" {
		return false
	}
	if _, ok := st["NotPrincipal"]; ok {
		return true
	}
	wildcard := st["Principal"] == "*"
	if p, ok := st["Principal"].(map[string]any); ok {
		for _, v := range stringsOf(p["AWS"]) {
			wildcard = wildcard || v == "*"
		}
	}
	if !wildcard {
		return false
	}
	conds, _ := st["Condition"].(map[string]any)
	for _, byKey := range conds {
		keys, _ := byKey.(map[string]any)
		for key, raw := range keys {
			values := stringsOf(raw)
			fixed := len(values) > 0
			for _, v := range values {
				fixed = fixed && !strings.ContainsAny(v, "*?") && v != "0.0.0.0/0" && v != "::/0"
			}
			if fixed && nonPublicConditionKeys[strings.ToLower(key)] {
				return false
			}
		}
	}
	return true
}

func statementsOf(doc map[string]any) []map[string]any {
	var out []map[string]any
	switch st := doc["Statement"].(type) {
	case []any:
		for _, s := range st {
			if m, ok := s.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, st)
	}
	return out
}

func stringsOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// regionBoundConditionKeys hold values that exist in one Region only: VPC
// and VPC endpoint ids. (aws:SourceVpcArn names its Region and
// account-scoped keys are global: both portable.)
var regionBoundConditionKeys = map[string]bool{"aws:sourcevpc": true, "aws:sourcevpce": true}

// regionalARNService matches ARNs of Regional resources that policies name
// in conditions: KMS keys, SNS topics, SQS queues.
func regionalARN(v string) (service, region string, ok bool) {
	parts := strings.SplitN(v, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[3] == "" {
		return "", "", false
	}
	switch parts[2] {
	case "kms", "sns", "sqs":
		return parts[2], parts[3], true
	}
	return "", "", false
}

// NotPortableError lists the Region-bound condition values of a policy that
// have no counterpart configured for the destination Region.
type NotPortableError struct {
	Source, Region string
	Conditions     []string // `statement "Sid" key = value`
}

func (e *NotPortableError) Error() string {
	return fmt.Sprintf("policy of bucket %q has Region-bound condition values that mean nothing in %s, so it is not copied: %s; "+
		"map each to its %s counterpart in BUCKETMIRROR_POLICY_VALUE_MAP (KMS keys also through BUCKETMIRROR_KMS_KEY_MAP)",
		e.Source, e.Region, strings.Join(e.Conditions, "; "), e.Region)
}

// mapRegionBoundConditions rewrites every Region-bound condition value
// (aws:SourceVpc, aws:SourceVpce, KMS/SNS/SQS ARNs of another Region) through
// Options.PolicyValues (then KMSKeys / NotificationTargets), noting each
// mapping. Any value left unmapped fails the kind with NotPortableError:
// copied verbatim it would silently deny or allow the wrong traffic.
func (e *Engine) mapRegionBoundConditions(policy json.RawMessage, m Mirror) (json.RawMessage, []Note, error) {
	var doc map[string]any
	if err := decodeJSON(policy, &doc); err != nil {
		return nil, nil, fmt.Errorf("bucket policy is not a JSON object: %w", err)
	}
	var notes []Note
	var unmapped []string
	lookup := func(v, service string) (string, bool) {
		if to, ok := e.opts.PolicyValues[v]; ok {
			return to, true
		}
		switch service {
		case "kms":
			to, ok := e.opts.KMSKeys[v]
			return to, ok
		case "sns", "sqs":
			to, ok := e.opts.NotificationTargets[v]
			return to, ok
		}
		return "", false
	}
	for i, st := range statementsOf(doc) {
		sid, _ := st["Sid"].(string)
		if sid == "" {
			sid = fmt.Sprintf("#%d", i+1)
		}
		conds, _ := st["Condition"].(map[string]any)
		for _, byKey := range conds {
			keys, _ := byKey.(map[string]any)
			for key, raw := range keys {
				mapOne := func(v string) string {
					service, region, isARN := regionalARN(v)
					if !regionBoundConditionKeys[strings.ToLower(key)] && !(isARN && region != m.Dest.Region) {
						return v
					}
					if to, ok := lookup(v, service); ok {
						notes = append(notes, Note{Severity: SeverityInfo, Message: fmt.Sprintf(
							"policy statement %q condition %s: %s mapped to %s for %s", sid, key, v, to, m.Dest.Region)})
						return to
					}
					unmapped = append(unmapped, fmt.Sprintf("statement %q %s = %s", sid, key, v))
					return v
				}
				switch t := raw.(type) {
				case string:
					keys[key] = mapOne(t)
				case []any:
					for j, x := range t {
						if s, ok := x.(string); ok {
							t[j] = mapOne(s)
						}
					}
				}
			}
		}
	}
	if len(unmapped) > 0 {
		slices.Sort(unmapped)
		return nil, notes, &NotPortableError{Source: m.Source.Name, Region: m.Dest.Region, Conditions: unmapped}
	}
	out, err := encodeJSON(doc)
	return out, notes, err
}

// RewritePolicy rewrites every Resource and NotResource of every statement
// that names bucket from (the bucket itself or objects in it) to bucket to.
// ARNs of other buckets, including ones whose names start with from, are
// kept.
func RewritePolicy(policy json.RawMessage, from, to string) (json.RawMessage, error) {
	var doc map[string]any
	if err := decodeJSON(policy, &doc); err != nil {
		return nil, fmt.Errorf("bucket policy is not a JSON object: %w", err)
	}
	var statements []any
	switch st := doc["Statement"].(type) {
	case []any:
		statements = st
	case map[string]any:
		statements = []any{st}
	}
	for _, s := range statements {
		stmt, ok := s.(map[string]any)
		if !ok {
			continue
		}
		for _, field := range []string{"Resource", "NotResource"} {
			switch r := stmt[field].(type) {
			case string:
				stmt[field] = rewriteBucketARN(r, from, to)
			case []any:
				for i, item := range r {
					if str, ok := item.(string); ok {
						r[i] = rewriteBucketARN(str, from, to)
					}
				}
			}
		}
	}
	return encodeJSON(doc)
}

func rewriteBucketARN(arn, from, to string) string {
	prefix := "arn:aws:s3:::" + from
	if arn == prefix {
		return "arn:aws:s3:::" + to
	}
	if rest, ok := strings.CutPrefix(arn, prefix+"/"); ok {
		return "arn:aws:s3:::" + to + "/" + rest
	}
	return arn
}

// canonicalJSON re-encodes a JSON document with sorted keys and no
// insignificant whitespace, so documents that mean the same compare equal.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	var doc any
	if err := decodeJSON(raw, &doc); err != nil {
		return nil, err
	}
	return encodeJSON(doc)
}

// decodeJSON keeps numbers as written (json.Number), not float64.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// encodeJSON does not escape <, > and & (policies may hold them).
func encodeJSON(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
