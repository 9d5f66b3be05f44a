package bucketconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
		out, err := e.clients.S3(b.Region).GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b.Name})
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
		_, err := e.clients.S3(b.Region).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &b.Name, Policy: aws.String(string(*v))})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.clients.S3(b.Region).DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &b.Name})
		return err
	},
	xform: func(_ context.Context, _ *Engine, m Mirror, v *json.RawMessage) (*json.RawMessage, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		out, err := RewritePolicy(*v, m.Source.Name, m.Dest.Name)
		if err != nil {
			return nil, nil, err
		}
		return &out, nil, nil
	},
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
