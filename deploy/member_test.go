package deploy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
)

// TestMemberRoleTrustsOnlyTheCentralRoles: deploy/member-account.yaml's
// role admits exactly the principals of its CentralRoleArns parameter (the
// central stack's function roles), with the external id, and nothing else;
// its S3 writes are the catalog's, on the name prefix in the destination
// Regions only; its reads are the catalog's reads.
func TestMemberRoleTrustsOnlyTheCentralRoles(t *testing.T) {
	source, _, err := transformTemplate("member-account.yaml")
	if err != nil {
		t.Fatal(err)
	}
	role, ok := source.Resources["MemberRole"]
	if !ok || role.Type != "AWS::IAM::Role" {
		t.Fatalf("member-account.yaml has no MemberRole (AWS::IAM::Role)")
	}
	if len(source.Resources) != 1 {
		t.Errorf("member-account.yaml creates %d resources, want the member role alone", len(source.Resources))
	}
	trust := statements(role.Properties["AssumeRolePolicyDocument"])
	if len(trust) != 1 {
		t.Fatalf("trust policy has %d statements, want 1", len(trust))
	}
	st := trust[0]
	raw, _ := json.Marshal(st)
	principal, _ := st["Principal"].(map[string]any)
	if st["Effect"] != "Allow" || st["Action"] != "sts:AssumeRole" || len(principal) != 1 ||
		!strings.Contains(string(raw), `"AWS":{"Ref":"CentralRoleArns"}`) {
		t.Errorf("trust statement %s: want Allow sts:AssumeRole for the AWS principals CentralRoleArns only", raw)
	}
	if !strings.Contains(string(raw), `"StringEquals":{"sts:ExternalId":{"Ref":"ExternalId"}}`) {
		t.Errorf("trust statement %s: want the condition StringEquals sts:ExternalId = ExternalId", raw)
	}
	if p, _ := source.Parameters["ExternalId"].(map[string]any); p == nil || p["Default"] != nil {
		t.Errorf("ExternalId must be a parameter without a default: %v", p)
	}

	gs := grants(rolePolicies(source, "MemberRole"))
	read, write := bucketconfig.Actions()
	for _, a := range read {
		if !allows(gs, a, "arn:${AWS::Partition}:s3:::any-source-bucket") {
			t.Errorf("the member role cannot %s on sources", a)
		}
	}
	for _, a := range write {
		if !strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "s3:Get") {
			continue
		}
		if !allows(gs, a, "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}example") {
			t.Errorf("the member role cannot %s on its own buckets", a)
		}
	}
	for _, g := range gs {
		if strings.HasPrefix(g.Action, "s3:") && !isS3Read(g.Action) && g.Action != "s3:ListAllMyBuckets" {
			if g.Resource != "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*" || g.Regions == nil {
				t.Errorf("%s: %s on %s (Regions %v): S3 writes only on the name prefix, in the destination Regions", g.Where, g.Action, g.Resource, g.Regions)
			}
		}
		if slices.Contains([]string{"iam:PassRole", "sts:AssumeRole"}, g.Action) {
			t.Errorf("%s grants %s", g.Where, g.Action)
		}
	}
}
