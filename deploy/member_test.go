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
	if c, _ := source.Parameters["OrganizationId"].(map[string]any); c == nil || c["Default"] != "" {
		t.Errorf("OrganizationId must be optional (Default \"\"): %v", c)
	}
	// Without OrganizationId (the default): the central roles by name.
	trust := statements(resolveIf(t, role.Properties["AssumeRolePolicyDocument"], map[string]bool{"TrustOrganization": false}))
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
	// With OrganizationId: any principal of the Organization whose ARN is
	// one of CentralRoleArns (ArnLike), with the external id; nothing else.
	orgTrust := statements(resolveIf(t, role.Properties["AssumeRolePolicyDocument"], map[string]bool{"TrustOrganization": true}))
	if len(orgTrust) != 1 {
		t.Fatalf("trust policy by Organization has %d statements, want 1", len(orgTrust))
	}
	org, _ := json.Marshal(orgTrust[0])
	want := `{"Action":"sts:AssumeRole","Condition":{"ArnLike":{"aws:PrincipalArn":{"Ref":"CentralRoleArns"}},` +
		`"StringEquals":{"aws:PrincipalOrgID":{"Ref":"OrganizationId"},"sts:ExternalId":{"Ref":"ExternalId"}}},` +
		`"Effect":"Allow","Principal":{"AWS":"*"},"Sid":"CentralFunctionsOnly"}`
	if string(org) != want {
		t.Errorf("trust statement by Organization\n got %s\nwant %s", org, want)
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

// ruleValue evaluates a CloudFormation rule expression (Ref, Fn::Equals,
// Fn::Not, Fn::And, Fn::Or: what template.yaml's Rules use) for the
// parameter values params, the template's defaults filling the rest.
func ruleValue(t *testing.T, tmpl cfnTemplate, params map[string]string, expr any) any {
	t.Helper()
	switch e := expr.(type) {
	case string, bool:
		return e
	case map[string]any:
		if len(e) != 1 {
			break
		}
		for fn, arg := range e {
			args, _ := arg.([]any)
			switch fn {
			case "Ref":
				name, _ := arg.(string)
				if v, ok := params[name]; ok {
					return v
				}
				p, ok := tmpl.Parameters[name].(map[string]any)
				if !ok {
					t.Fatalf("rule refers to %q, not a parameter", name)
				}
				d, _ := p["Default"].(string)
				return d
			case "Fn::Equals":
				if len(args) == 2 {
					return ruleValue(t, tmpl, params, args[0]) == ruleValue(t, tmpl, params, args[1])
				}
			case "Fn::Not":
				if len(args) == 1 {
					b, ok := ruleValue(t, tmpl, params, args[0]).(bool)
					if ok {
						return !b
					}
				}
			case "Fn::And", "Fn::Or":
				out := fn == "Fn::And"
				for _, a := range args {
					b, _ := ruleValue(t, tmpl, params, a).(bool)
					if fn == "Fn::And" {
						out = out && b
					} else {
						out = out || b
					}
				}
				return out
			}
		}
	}
	t.Fatalf("rule expression %v: not evaluated by this test", expr)
	return nil
}

// refusedBy returns the rules of tmpl whose assertions fail for params: the
// rules CloudFormation would refuse the stack with.
func refusedBy(t *testing.T, tmpl cfnTemplate, params map[string]string) []string {
	t.Helper()
	var refused []string
	for name, r := range tmpl.Rules {
		rule, _ := r.(map[string]any)
		if cond, ok := rule["RuleCondition"]; ok && ruleValue(t, tmpl, params, cond) != true {
			continue
		}
		asserts, _ := rule["Assertions"].([]any)
		if len(asserts) == 0 {
			t.Errorf("rule %s asserts nothing", name)
		}
		for _, a := range asserts {
			assert, _ := a.(map[string]any)
			if desc, _ := assert["AssertDescription"].(string); desc == "" {
				t.Errorf("rule %s: an assertion without AssertDescription (the message CloudFormation shows)", name)
			}
			if ruleValue(t, tmpl, params, assert["Assert"]) != true {
				refused = append(refused, name)
			}
		}
	}
	slices.Sort(refused)
	return slices.Compact(refused)
}

// TestExternalIdRequiredAcrossAccounts: the central template refuses
// SourceAccounts without the ExternalId the member roles require (which
// would fail every AssumeRole at run time), and keeps a deployment within
// its own account as it was: no external id needed.
func TestExternalIdRequiredAcrossAccounts(t *testing.T) {
	source, _ := loadTemplates(t)
	for _, c := range []struct {
		params map[string]string
		refuse bool
	}{
		{map[string]string{}, false},
		{map[string]string{"SourceAccounts": "organization"}, true},
		{map[string]string{"SourceAccounts": "111111111111 222222222222"}, true},
		{map[string]string{"SourceAccounts": "organization", "ExternalId": "bucketmirror-ext", "OrganizationId": "o-exampleorg1"}, false},
		{map[string]string{"ExternalId": "bucketmirror-ext"}, false},
	} {
		got := refusedBy(t, source, c.params)
		if c.refuse != slices.Contains(got, "ExternalIdAcrossAccounts") || (!c.refuse && len(got) > 0) {
			t.Errorf("parameters %v: rules refusing %v, want refused by ExternalIdAcrossAccounts: %v", c.params, got, c.refuse)
		}
	}
}

// resolveIf replaces each Fn::If of v by the branch its condition (conds)
// selects, leaving out AWS::NoValue: the template as CloudFormation
// resolves it for one set of condition values.
func resolveIf(t *testing.T, v any, conds map[string]bool) any {
	t.Helper()
	switch e := v.(type) {
	case map[string]any:
		if args, ok := e["Fn::If"].([]any); ok && len(e) == 1 {
			name, _ := args[0].(string)
			val, known := conds[name]
			if len(args) != 3 || !known {
				t.Fatalf("Fn::If %v: condition not given to the test", args)
			}
			if val {
				return resolveIf(t, args[1], conds)
			}
			return resolveIf(t, args[2], conds)
		}
		out := map[string]any{}
		for k, x := range e {
			if r := resolveIf(t, x, conds); !isNoValue(r) {
				out[k] = r
			}
		}
		return out
	case []any:
		var out []any
		for _, x := range e {
			if r := resolveIf(t, x, conds); !isNoValue(r) {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}

func isNoValue(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == "AWS::NoValue"
}
