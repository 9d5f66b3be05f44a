package bucketconfig

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Public is what S3 means by it ("The meaning of public", S3 User Guide;
// the rules are quoted in the API Reference of PublicAccessBlockConfiguration:
// https://docs.aws.amazon.com/sdkfornet/v3/apidocs/items/S3/TPublicAccessBlockConfiguration.html).
// The ordering edges of catalog.go use it to tell a write that Block Public
// Access could refuse (and that must wait for BPA to be relaxed) from one it
// cannot. Where the rules need more than the document (what counts as a
// "fixed" value), the check errs towards public, the side that waits.

// fixedValueKeys are the condition keys that make an Allow to everyone
// non-public when they have a fixed value.
var fixedValueKeys = map[string]bool{
	"aws:sourceip": true, "aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceowner": true, "aws:sourceaccount": true, "s3:x-amz-server-side-encryption-aws-kms-key-id": true,
	"aws:userid": true,
}

// isPublicPolicy says whether a policy value (the policy kind's) grants
// public access: an Allow to every principal (Principal "*" or {"AWS": "*"},
// or NotPrincipal) that no fixed-value condition narrows.
func isPublicPolicy(v value) bool {
	raw, ok := v.(*json.RawMessage)
	if !ok || raw == nil {
		return false
	}
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(*raw, &doc); err != nil {
		return true
	}
	var statements []map[string]any
	if err := json.Unmarshal(doc.Statement, &statements); err != nil {
		var one map[string]any
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return len(doc.Statement) > 0
		}
		statements = []map[string]any{one}
	}
	for _, st := range statements {
		if st["Effect"] != "Allow" {
			continue
		}
		_, notPrincipal := st["NotPrincipal"]
		if (notPrincipal || everyone(st["Principal"])) && !fixedCondition(st["Condition"]) {
			return true
		}
	}
	return false
}

// everyone says whether a Principal element names every principal.
func everyone(p any) bool {
	switch p := p.(type) {
	case string:
		return p == "*"
	case []any:
		for _, e := range p {
			if everyone(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range p {
			if everyone(e) {
				return true
			}
		}
	}
	return false
}

// fixedCondition says whether a Condition block has one of fixedValueKeys
// with values that hold no wildcard.
func fixedCondition(c any) bool {
	ops, ok := c.(map[string]any)
	if !ok {
		return false
	}
	for op, keys := range ops {
		if strings.Contains(strings.ToLower(op), "like") || strings.HasPrefix(op, "Not") {
			continue
		}
		km, ok := keys.(map[string]any)
		if !ok {
			continue
		}
		for key, vals := range km {
			if fixedValueKeys[strings.ToLower(key)] && !hasWildcard(vals) {
				return true
			}
		}
	}
	return false
}

func hasWildcard(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsAny(v, "*?") || v == "0.0.0.0/0" || v == "::/0"
	case []any:
		for _, e := range v {
			if hasWildcard(e) {
				return true
			}
		}
	}
	return false
}

const (
	allUsersURI           = "http://acs.amazonaws.com/groups/global/AllUsers"
	authenticatedUsersURI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// isPublicACL says whether an ACL value (the acl kind's) grants anything to
// AllUsers or AuthenticatedUsers, the grants S3 calls public.
func isPublicACL(v value) bool {
	grants, ok := v.(*[]aclGrant)
	if !ok || grants == nil {
		return false
	}
	for _, g := range *grants {
		if g.Type == types.TypeGroup && (g.URI == allUsersURI || g.URI == authenticatedUsersURI) {
			return true
		}
	}
	return false
}
