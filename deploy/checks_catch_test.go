package deploy

// Each checker fails on a small bad input: the template tests pass because
// the template is right, not because a checker cannot see.

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// decode turns a JSON literal into a template (or any value) for the tests.
func decode[T any](t *testing.T, text string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("bad test input: %v\n%s", err, text)
	}
	return v
}

// roleTemplate is a template of one role with one inline policy of stmts.
func roleTemplate(t *testing.T, stmts string) cfnTemplate {
	return decode[cfnTemplate](t, `{"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
		"Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": `+stmts+`}}]}}}}`)
}

func TestWildcardFindingsCatchBroadStatements(t *testing.T) {
	for _, tc := range []struct {
		name, stmts string
		want        string // part of the one finding; "" = no finding
	}{
		{"every action", `[{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}]`, `"*" allows every action`},
		{"service wildcard", `[{"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b"}]`, `"s3:*" allows every action`},
		{"wildcard action on star", `[{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]`, `wildcard action "s3:Get*"`},
		{"scopable action on star", `[{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": ["*"]}]`, `"s3:PutBucketPolicy" on Resource "*"`},
		{"star in a list of resources", `[{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": [{"Fn::Sub": "arn:x"}, "*"]}]`, `"dynamodb:GetItem" on Resource "*"`},
		{"star in one branch of Fn::If", `[{"Effect": "Allow", "Action": "s3:GetBucketPolicy", "Resource": {"Fn::If": ["C", "arn:aws:s3:::b", "*"]}}]`, `"s3:GetBucketPolicy" on Resource "*"`},
		{"NotAction", `[{"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}]`, "NotAction"},
		{"single statement object", `{"Effect": "Allow", "Action": "*", "Resource": "*"}`, `"*" allows every action`},
		{"unscopable action on star", `[{"Effect": "Allow", "Action": "tag:GetResources", "Resource": "*"}]`, ""},
		{"wildcard action on a bucket", `[{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b"}]`, ""},
		{"deny is not a grant", `[{"Effect": "Deny", "Action": "*", "Resource": "*"}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wildcardFindings(roleTemplate(t, tc.stmts), map[string]string{"tag:GetResources": "no resource type"})
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("want no finding, got %q", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("want one finding with %q, got %q", tc.want, got)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"arn:${AWS::Partition}:s3:::*", anyBucket, true},
		{"arn:${AWS::Partition}:s3:::*", ownBucket, true},
		{"arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*", ownBucket, true},
		{"arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*", anyBucket, false},
		{"*", anyBucket, true},
		{"s3:get*", "s3:getbucketpolicy", true},
		{"s3:get*", "s3:putbucketpolicy", false},
		{"s3:getbucket?cl", "s3:getbucketacl", true},
		{"arn:aws:s3:::*-us-west-2", "arn:aws:s3:::logs-us-west-2", true},
		{"arn:aws:s3:::*-us-west-2", "arn:aws:s3:::logs-eu-west-1", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"", "", true},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestMissingGrantsCatchAnActionOrAResourceNotGranted(t *testing.T) {
	gs := grants(rolePolicies(roleTemplate(t, `[
		{"Effect": "Allow", "Action": ["s3:GetBucketPolicy", "kms:ListAliases"], "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}},
		{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*"}},
		{"Effect": "Deny", "Action": "s3:PutBucketCORS", "Resource": "*"}]`), "R"))
	resource := func(bucket string) func(string) string {
		return func(a string) string {
			if strings.HasPrefix(a, "s3:") {
				return bucket
			}
			return ""
		}
	}
	if got := missingGrants(gs, []string{"s3:GetBucketPolicy", "kms:ListAliases", "S3:getbucketpolicy"}, resource(anyBucket)); len(got) != 0 {
		t.Errorf("granted actions reported missing: %q", got)
	}
	if got := missingGrants(gs, []string{"s3:PutBucketPolicy", "s3:GetBucketPolicy"}, resource(ownBucket)); len(got) != 0 {
		t.Errorf("granted actions reported missing: %q", got)
	}
	got := missingGrants(gs, []string{"s3:PutBucketPolicy", "s3:PutBucketCORS", "kms:DescribeKey"}, resource(anyBucket))
	want := []string{"s3:PutBucketPolicy on " + anyBucket, "s3:PutBucketCORS on " + anyBucket, "kms:DescribeKey on any resource"}
	if !slices.Equal(got, want) {
		t.Errorf("missingGrants = %q, want %q", got, want)
	}
}

func TestWritesOnEveryBucketCatchWritesToSources(t *testing.T) {
	gs := grants(rolePolicies(roleTemplate(t, `[
		{"Sid": "Reads", "Effect": "Allow", "Action": ["s3:GetBucketPolicy", "s3:ListBucket"], "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}},
		{"Sid": "Own", "Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*"}},
		{"Sid": "Everywhere", "Effect": "Allow", "Action": "s3:PutBucketTagging", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}},
		{"Sid": "Star", "Effect": "Allow", "Action": "s3:Put*", "Resource": "*"},
		{"Sid": "LogBuckets", "Effect": "Allow", "Action": "s3:CreateBucket",
		 "Resource": {"Fn::Split": [",", {"Fn::Join": ["", ["arn:aws:s3:::*-", {"Fn::Join": [",arn:aws:s3:::*-", {"Fn::Split": [" ", {"Ref": "DestinationRegions"}]}]}]]}]}}]`), "R"))
	got := writesOnEveryBucket(gs)
	if len(got) != 2 || !strings.Contains(got[0], "Everywhere") || !strings.Contains(got[1], "Star") {
		t.Errorf("want the Everywhere and Star statements reported, got %q", got)
	}
}

func TestValuesEvaluatesIntrinsics(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`"x"`, []string{"x"}},
		{`{"Ref": "Table"}`, []string{"${Table}"}},
		{`{"Fn::GetAtt": ["Fn", "Arn"]}`, []string{"${Fn.Arn}"}},
		{`{"Fn::GetAtt": "Fn.Arn"}`, []string{"${Fn.Arn}"}},
		{`{"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}`, []string{"arn:${AWS::Partition}:s3:::*"}},
		{`{"Fn::Sub": ["a-${X}", {"X": {"Ref": "Y"}}]}`, []string{"a-${Y}"}},
		{`{"Fn::If": ["C", "a", ["b", "c"]]}`, []string{"a", "b", "c"}},
		{`{"Fn::Split": [",", {"Fn::Join": ["", ["arn:aws:s3:::*-", {"Fn::Join": [",arn:aws:s3:::*-", {"Fn::Split": [" ", {"Ref": "DestinationRegions"}]}]}]]}]}`,
			[]string{"arn:aws:s3:::*-us-west-2", "arn:aws:s3:::*-eu-central-1"}},
		{`{"Fn::ImportValue": "x"}`, []string{`{"Fn::ImportValue":"x"}`}},
	} {
		if got := values(decode[any](t, tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("values(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFunctionSettingFindingsCatchMissingSettings(t *testing.T) {
	tmpl := decode[cfnTemplate](t, `{"Resources": {
		"Good": {"Type": "AWS::Serverless::Function", "Metadata": {"BuildMethod": "makefile"},
		         "Properties": {"Timeout": 10, "MemorySize": 128, "Architectures": ["arm64"]}},
		"NoTimeout": {"Type": "AWS::Serverless::Function", "Metadata": {"BuildMethod": "makefile"},
		              "Properties": {"MemorySize": 128, "Architectures": ["arm64"]}},
		"WrongArch": {"Type": "AWS::Lambda::Function",
		              "Properties": {"Timeout": 10, "MemorySize": 128, "Architectures": ["x86_64"]}},
		"NoMemoryNoArch": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 10}},
		"NotBuilt": {"Type": "AWS::Serverless::Function",
		             "Properties": {"Timeout": 10, "MemorySize": 128, "Architectures": ["arm64"]}},
		"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}}`)
	got := functionSettingFindings(tmpl, "arm64")
	for _, want := range []string{"NoMemoryNoArch: no explicit MemorySize", "NoMemoryNoArch: Architectures", "NoTimeout: no explicit Timeout",
		"NotBuilt: Metadata.BuildMethod", "WrongArch: Architectures"} {
		if !slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Errorf("no finding %q in %q", want, got)
		}
	}
	if len(got) != 5 || slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, "Good") }) {
		t.Errorf("want exactly the 5 findings above, got %q", got)
	}
}

func TestSubstitutionFindingsCatchMissingAndUnusedValues(t *testing.T) {
	got := substitutionFindings([]string{"A", "B"}, map[string]any{"A": "x", "C": "y"})
	want := []string{"${B} has no DefinitionSubstitutions entry", "DefinitionSubstitutions.C is not used by the definition"}
	if !slices.Equal(got, want) {
		t.Errorf("substitutionFindings = %q, want %q", got, want)
	}
	if got := substitutionFindings([]string{"A"}, map[string]any{"A": "x"}); len(got) != 0 {
		t.Errorf("complete substitutions reported: %q", got)
	}
}

func TestUnsubstitutableCatchesUnknownPlaceholders(t *testing.T) {
	asl := decode[any](t, `{"Comment": "uses ${...} values", "States": {
		"A": {"Type": "Task", "Resource": "${Known}", "Comment": "${Ignored}"},
		"B": {"Type": "Pass", "Parameters": {"x": ["${Unknown}", "${Known}"], "y": "${Bad-Name}"}}}}`)
	got := unsubstitutable(asl, []string{"Known"})
	want := []string{"$.States.B.Parameters.x[0]: ${Unknown} is not a substitutable ${Name}", "$.States.B.Parameters.y: ${Bad-Name} is not a substitutable ${Name}"}
	if !slices.Equal(got, want) {
		t.Errorf("unsubstitutable = %q, want %q", got, want)
	}
}

func TestTaskNeedsDerivesPermissionsAndRejectsUnknownTasks(t *testing.T) {
	tmpl := decode[cfnTemplate](t, `{"Resources": {"StepFunction": {"Type": "AWS::Lambda::Function"}, "Table": {"Type": "AWS::DynamoDB::Table"}}}`)
	subs := decode[map[string]any](t, `{"Step": {"Fn::GetAtt": ["StepFunction", "Arn"]}, "Table": {"Ref": "Table"},
		"NotAFunction": {"Fn::GetAtt": ["Table", "Arn"]}}`)
	asl := decode[map[string]any](t, `{"States": {
		"Step": {"Type": "Task", "Resource": "${Step}"},
		"Mark": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "Parameters": {"TableName": "${Table}"}},
		"Fan": {"Type": "Parallel", "Branches": [{"States": {"Inner": {"Type": "Task", "Resource": "${NotAFunction}"}}}]},
		"Each": {"Type": "Map", "ItemProcessor": {"States": {"Queue": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage"}}}},
		"Done": {"Type": "Succeed"}}}`)
	needs, findings := taskNeeds(asl, subs, tmpl)
	wantNeeds := []taskNeed{
		{State: "Mark", Action: "dynamodb:UpdateItem", Resource: "${Table.Arn}"},
		{State: "Step", Action: "lambda:InvokeFunction", Resource: "${StepFunction.Arn}"},
	}
	if !slices.Equal(needs, wantNeeds) {
		t.Errorf("needs = %+v, want %+v", needs, wantNeeds)
	}
	if len(findings) != 2 || !strings.Contains(findings[0], "Task Queue") || !strings.Contains(findings[1], "Task Inner") {
		t.Errorf("want findings for Queue (unknown integration) and Inner (not a function), got %q", findings)
	}
}

func TestParseTOMLKeys(t *testing.T) {
	got := parseTOMLKeys("version = 0.1\n# c\n[default.deploy.parameters]\nstack_name = \"x\"\n  resolve_s3 = true\n")
	want := map[string]string{"version": "0.1", "default.deploy.parameters.stack_name": `"x"`, "default.deploy.parameters.resolve_s3": "true"}
	if len(got) != len(want) {
		t.Errorf("parseTOMLKeys = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseTOMLKeys[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestGrantFindingsCatchMissingAndUnusedActions(t *testing.T) {
	gs := grants([]policyDoc{{where: "R", doc: decode[any](t, `{"Statement": [
		{"Effect": "Allow", "Action": ["s3:GetBucketPolicy", "kms:ListAliases"], "Resource": "*"}]}`)}})
	needs := map[string]codeAction{"s3:GetBucketPolicy": {}, "s3:GetBucketCORS": {}}
	got := grantFindings("Fn", gs, needs)
	if len(got) != 2 || !strings.Contains(got[0], "s3:GetBucketCORS") || !strings.Contains(got[0], "not granted") ||
		!strings.Contains(got[1], "kms:ListAliases") || !strings.Contains(got[1], "never calls") {
		t.Errorf("want a missing s3:GetBucketCORS and an unused kms:ListAliases, got %q", got)
	}
	if got := grantFindings("Fn", gs, map[string]codeAction{"s3:GetBucketPolicy": {}, "kms:ListAliases": {}}); len(got) != 0 {
		t.Errorf("exact grants: want no finding, got %q", got)
	}
}

func TestOutsideOwnBucketsCatchesForeignWrites(t *testing.T) {
	regions := []string{"us-west-2"}
	cond := `"Condition": {"StringEquals": {"aws:RequestedRegion": ["us-west-2"]}}`
	for _, tc := range []struct {
		name, stmts string
		want        string
	}{
		{"log bucket suffix", `[{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::*-us-west-2", ` + cond + `}]`, "not bucketmirror's"},
		{"list every bucket", `[{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}}]`, "not bucketmirror's"},
		{"write in any Region", `[{"Effect": "Allow", "Action": "s3:PutBucketCORS", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*"}}]`, "aws:RequestedRegion"},
		{"own bucket in its Regions", `[{"Effect": "Allow", "Action": "s3:PutBucketCORS", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}*"}, ` + cond + `}]`, ""},
		{"read anywhere", `[{"Effect": "Allow", "Action": "s3:GetBucketCORS", "Resource": "arn:aws:s3:::*"}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := outsideOwnBuckets(grants(policyDocuments(roleTemplate(t, tc.stmts))), regions)
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("want no finding, got %q", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("want one finding with %q, got %q", tc.want, got)
			}
		})
	}
}

func TestWorstCasePathAddsRetriesAlongTheLongestPath(t *testing.T) {
	asl := decode[map[string]any](t, `{"StartAt": "A", "States": {
		"A": {"Type": "Task", "TimeoutSeconds": 10, "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 2, "IntervalSeconds": 2, "BackoffRate": 2},
		                                                      {"ErrorEquals": ["Y"], "MaxAttempts": 1, "IntervalSeconds": 100, "MaxDelaySeconds": 5}],
		      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Slow"}], "Next": "Done"},
		"Slow": {"Type": "Task", "Next": "Done"},
		"Done": {"Type": "Succeed"}}}`)
	attempt := func(_ string, st map[string]any) (float64, string) {
		if v, ok := st["TimeoutSeconds"].(float64); ok {
			return v, ""
		}
		return 0, "no TimeoutSeconds"
	}
	worst, path, findings := worstCasePath(asl, attempt)
	// A: 4 attempts of 10 s + delays 2, 4 and min(100, 5) = 51; Slow: unknown.
	if worst != 51 || !slices.Equal(path, []string{"A", "Slow", "Done"}) && !slices.Equal(path, []string{"A", "Done"}) {
		t.Errorf("worst = %v along %v, want 51", worst, path)
	}
	if len(findings) != 1 || !strings.Contains(findings[0], "Slow") {
		t.Errorf("findings = %q, want Slow without TimeoutSeconds", findings)
	}
	loop := decode[map[string]any](t, `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Choice", "Choices": [{"Next": "A"}], "Default": "C"}, "C": {"Type": "Succeed"}}}`)
	if _, _, f := worstCasePath(loop, attempt); len(f) == 0 || !strings.Contains(f[0], "loop") {
		t.Errorf("a loop was not reported: %q", f)
	}
}
