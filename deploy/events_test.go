package deploy

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

const forwarderPath = "forwarder.yaml"

// forwarder holds deploy/forwarder.yaml as read by the offline transform
// script (it has no SAM transform: the script returns it unchanged).
var forwarder struct {
	once sync.Once
	tmpl cfnTemplate
	err  error
}

func loadForwarder(t *testing.T) cfnTemplate {
	t.Helper()
	forwarder.once.Do(func() { forwarder.tmpl, _, forwarder.err = transformTemplate(forwarderPath) })
	if forwarder.err != nil {
		t.Fatal(forwarder.err)
	}
	return forwarder.tmpl
}

// pathOf walks nested maps.
func pathOf(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			raw, _ := json.Marshal(e)
			s = string(raw) // a prefix or anything-but matcher: never a name
		}
		out = append(out, s)
	}
	return out
}

// TestEventPatternsAreTheOneList: the home stack's bucket-change rule and
// the forwarder's rule match exactly pkg/sweep's change events, by name
// (no prefix matchers that would deliver calls the handler refuses), and
// the two patterns are the same so that a forwarded event matches at home.
func TestEventPatternsAreTheOneList(t *testing.T) {
	source, _ := loadTemplates(t)
	home := pathOf(source.Resources["SweepFunction"].Properties, "Events", "BucketConfigurationChanged", "Properties", "Pattern")
	fwd := pathOf(loadForwarder(t).Resources["ForwardBucketChanges"].Properties, "EventPattern")
	want := sweep.BucketChangeEvents()
	for name, pattern := range map[string]any{"template.yaml BucketConfigurationChanged": home, "forwarder.yaml ForwardBucketChanges": fwd} {
		got := strs(pathOf(pattern, "detail", "eventName"))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s eventName:\n  has     %v\n  handler %v", name, got, want)
		}
		if src := strs(pathOf(pattern, "detail", "eventSource")); !slices.Equal(src, []string{"s3.amazonaws.com"}) {
			t.Errorf("%s eventSource %v", name, src)
		}
	}
	if !reflect.DeepEqual(home, fwd) {
		t.Errorf("the forwarder's pattern differs from the home rule's:\n  home %v\n  fwd  %v", home, fwd)
	}
	for _, n := range want {
		if _, ok := sweep.KindsOfEvent(n); !ok {
			t.Errorf("%s is listed but the handler has no kinds for it", n)
		}
	}
}

// TestForwarderTemplate checks the forwarding stack: a rule (outside the
// home Region only) whose one target is the home Region's bus with a role
// that may put events there and nothing else, a dead-letter queue, and a
// trail only when asked for.
func TestForwarderTemplate(t *testing.T) {
	tmpl := loadForwarder(t)
	rule := tmpl.Resources["ForwardBucketChanges"]
	if rule.Type != "AWS::Events::Rule" || rule.Condition != "ForwardsEvents" {
		t.Fatalf("ForwardBucketChanges: %s with condition %q, want an AWS::Events::Rule under ForwardsEvents", rule.Type, rule.Condition)
	}
	targets, _ := rule.Properties["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("the rule has %d targets, want the home bus only", len(targets))
	}
	target := targets[0].(map[string]any)
	homeBus := "arn:${AWS::Partition}:events:${HomeRegion}:${HomeAccount}:event-bus/${HomeEventBusName}"
	if arn := values(target["Arn"]); !slices.Equal(arn, []string{homeBus}) {
		t.Errorf("target %v, want the home Region's bus %s", arn, homeBus)
	}
	if role := values(target["RoleArn"]); !slices.Equal(role, []string{"${ForwardRole.Arn}"}) {
		t.Errorf("target role %v, want ForwardRole (a cross-Region or cross-account bus target needs one)", role)
	}
	if dlq := values(pathOf(target, "DeadLetterConfig", "Arn")); !slices.Equal(dlq, []string{"${ForwardDeadLetters.Arn}"}) {
		t.Errorf("target dead-letter queue %v", dlq)
	}
	trust := statements(tmpl.Resources["ForwardRole"].Properties["AssumeRolePolicyDocument"])
	if len(trust) != 1 || pathOf(trust[0], "Principal", "Service") != "events.amazonaws.com" {
		t.Errorf("ForwardRole trust %v, want events.amazonaws.com only", trust)
	}
	gs := grants(rolePolicies(tmpl, "ForwardRole"))
	if len(gs) != 1 || gs[0].Action != "events:PutEvents" || gs[0].Resource != homeBus {
		t.Errorf("ForwardRole grants %+v, want events:PutEvents on the home bus only", gs)
	}
	if def := pathOf(tmpl.Parameters, "CreateTrail", "Default"); def != "false" {
		t.Errorf("CreateTrail defaults to %v, want false", def)
	}
	trail := tmpl.Resources["Trail"]
	if trail.Condition != "CreatesTrail" || trail.Properties["IsMultiRegionTrail"] != true {
		t.Errorf("Trail: condition %q multi-Region %v, want CreatesTrail and true", trail.Condition, trail.Properties["IsMultiRegionTrail"])
	}
	sel, _ := trail.Properties["EventSelectors"].([]any)
	if len(sel) != 1 || pathOf(sel[0], "ReadWriteType") != "WriteOnly" || pathOf(sel[0], "IncludeManagementEvents") != true {
		t.Errorf("trail selectors %v, want write management events", sel)
	}
	source, _ := loadTemplates(t)
	if got, want := pathOf(tmpl.Parameters, "NamePrefix", "AllowedPattern"), pathOf(source.Parameters, "DestinationNamePrefix", "AllowedPattern"); got != want {
		t.Errorf("NamePrefix pattern %v differs from the home stack's DestinationNamePrefix %v", got, want)
	}
	if name := values(tmpl.Resources["TrailBucket"].Properties["BucketName"]); len(name) != 1 || !strings.HasPrefix(name[0], "${NamePrefix}") {
		t.Errorf("trail bucket name %v, want it under the name prefix", name)
	}
	for id, r := range tmpl.Resources {
		if r.Condition == "" {
			t.Errorf("%s has no condition: in the home Region with CreateTrail false the stack must create nothing", id)
		}
	}
}

// TestSweepKnowsTheFunctionRoles: the sweep drops events caused by the
// create and configure roles, so the template must hand it exactly those.
func TestSweepKnowsTheFunctionRoles(t *testing.T) {
	source, transformed := loadTemplates(t)
	v := pathOf(source.Resources["SweepFunction"].Properties, "Environment", "Variables", "BUCKETMIRROR_OWN_ROLE_ARNS")
	got := strings.Fields(strings.Join(values(v), " "))
	var want []string
	for _, fn := range []string{"CreateFunction", "ConfigureFunction"} {
		want = append(want, "${"+roleOf(t, transformed, fn)+".Arn}")
	}
	if !slices.Equal(got, want) {
		t.Errorf("BUCKETMIRROR_OWN_ROLE_ARNS = %v, want the roles the writing functions run with %v", got, want)
	}
}

// condition evaluates the template condition name with the parameter
// values params (AWS::AccountId and AWS::Region among them): Fn::Equals,
// Fn::Not, Fn::And, Fn::Or, Condition and Ref, as CloudFormation does.
func condition(t *testing.T, tmpl cfnTemplate, name string, params map[string]string) bool {
	t.Helper()
	def, ok := tmpl.Conditions[name]
	if !ok {
		t.Fatalf("no condition %s", name)
	}
	var eval func(v any) any
	eval = func(v any) any {
		switch v := v.(type) {
		case string:
			return v
		case map[string]any:
			for fn, arg := range v {
				args, _ := arg.([]any)
				switch fn {
				case "Ref":
					val, ok := params[arg.(string)]
					if !ok {
						t.Fatalf("condition %s: no value for %s", name, arg)
					}
					return val
				case "Condition":
					return condition(t, tmpl, arg.(string), params)
				case "Fn::Equals":
					return eval(args[0]) == eval(args[1])
				case "Fn::Not":
					return !eval(args[0]).(bool)
				case "Fn::And", "Fn::Or":
					all, anyTrue := true, false
					for _, a := range args {
						b := eval(a).(bool)
						all, anyTrue = all && b, anyTrue || b
					}
					if fn == "Fn::And" {
						return all
					}
					return anyTrue
				}
			}
		}
		t.Fatalf("condition %s: cannot evaluate %v", name, v)
		return nil
	}
	return eval(def).(bool)
}

// TestMemberEventsReachTheCentralBus: member accounts' bucket-change events
// get to the central stack's rule. The forwarder, deployed in a member
// account with HomeAccountId, forwards from every Region (the home Region
// too) to the central account's bus, with a role that may put events on
// that bus and nowhere else; in the central account it still forwards only
// from the other Regions. The central template's default bus — the one its
// bucket-change rule listens on — admits exactly the Organization's
// accounts (SourceAccounts=organization) or the listed SourceAccounts,
// events:PutEvents only, and nothing when SourceAccounts is empty.
func TestMemberEventsReachTheCentralBus(t *testing.T) {
	const central, member = "111111111111", "222222222222"
	fwd := loadForwarder(t)
	for _, c := range []struct {
		account, region, home string
		want                  bool
	}{
		{central, "us-east-1", "", false},
		{central, "us-east-1", central, false},
		{central, "eu-west-1", "", true},
		{member, "us-east-1", central, true},
		{member, "eu-west-1", central, true},
	} {
		p := map[string]string{"AWS::AccountId": c.account, "AWS::Region": c.region, "HomeRegion": "us-east-1", "HomeAccountId": c.home}
		if got := condition(t, fwd, "ForwardsEvents", p); got != c.want {
			t.Errorf("forwarder in account %s, %s, HomeAccountId %q: forwards %v, want %v", c.account, c.region, c.home, got, c.want)
		}
	}
	homeAccount := map[string]any{"Fn::If": []any{"InMemberAccount", map[string]any{"Ref": "HomeAccountId"}, map[string]any{"Ref": "AWS::AccountId"}}}
	targets, _ := fwd.Resources["ForwardBucketChanges"].Properties["Targets"].([]any)
	tgt, _ := targets[0].(map[string]any)
	gs := rolePolicies(fwd, "ForwardRole")
	sts := statements(gs[0].doc)
	if len(gs) != 1 || len(sts) != 1 {
		t.Fatalf("ForwardRole has %d policies, %d statements; want one statement", len(gs), len(sts))
	}
	busArn, _ := json.Marshal(tgt["Arn"])
	granted, _ := json.Marshal(sts[0]["Resource"])
	if string(busArn) != string(granted) || sts[0]["Action"] != "events:PutEvents" {
		t.Errorf("ForwardRole may %v on %s; the rule targets %s: want events:PutEvents on exactly the target bus", sts[0]["Action"], granted, busArn)
	}
	for where, arn := range map[string]any{"target": tgt["Arn"], "ForwardRole": sts[0]["Resource"]} {
		sub, _ := pathOf(arn, "Fn::Sub").([]any)
		if len(sub) != 2 || !reflect.DeepEqual(pathOf(sub[1], "HomeAccount"), homeAccount) {
			t.Errorf("%s bus %v: want its account to be HomeAccountId in a member account, else this account", where, arn)
		}
	}

	source, _ := loadTemplates(t)
	rule := pathOf(source.Resources["SweepFunction"].Properties, "Events", "BucketConfigurationChanged", "Properties")
	if bus := pathOf(rule, "EventBusName"); bus != nil && bus != "default" {
		t.Fatalf("the bucket-change rule listens on %v; the bus policies admit events to the default bus", bus)
	}
	if def := pathOf(fwd.Parameters, "HomeEventBusName", "Default"); def != "default" {
		t.Errorf("the forwarder's HomeEventBusName defaults to %v, want the default bus the central rule listens on", def)
	}
	defaultBus := "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
	policies := map[string]string{}
	for id, r := range source.Resources {
		if r.Type == "AWS::Events::EventBusPolicy" {
			policies[id] = r.Condition
		}
	}
	if !reflect.DeepEqual(policies, map[string]string{"MemberEventsFromOrganization": "AdmitsOrganization", "MemberEventsFromAccounts": "AdmitsListedAccounts"}) {
		t.Fatalf("event bus policies %v, want MemberEventsFromOrganization and MemberEventsFromAccounts under their conditions", policies)
	}
	for _, c := range []struct {
		accounts  string
		org, list bool
	}{{"", false, false}, {"organization", true, false}, {"333333333333 444444444444", false, true}} {
		p := map[string]string{"SourceAccounts": c.accounts}
		if org, list := condition(t, source, "AdmitsOrganization", p), condition(t, source, "AdmitsListedAccounts", p); org != c.org || list != c.list {
			t.Errorf("SourceAccounts %q: organization policy %v, accounts policy %v; want %v, %v", c.accounts, org, list, c.org, c.list)
		}
	}
	for id, wantPrincipal := range map[string]string{
		"MemberEventsFromOrganization": `"*"`,
		"MemberEventsFromAccounts":     `{"AWS":{"Fn::Split":[" ",{"Ref":"SourceAccounts"}]}}`,
	} {
		props := source.Resources[id].Properties
		st, _ := props["Statement"].(map[string]any)
		principal, _ := json.Marshal(st["Principal"])
		if bus := pathOf(props, "EventBusName"); bus != "default" {
			t.Errorf("%s is on bus %v, want default", id, bus)
		}
		if st["Effect"] != "Allow" || st["Action"] != "events:PutEvents" || !slices.Equal(values(st["Resource"]), []string{defaultBus}) {
			t.Errorf("%s: %v %v on %v, want Allow events:PutEvents on %s only", id, st["Effect"], st["Action"], values(st["Resource"]), defaultBus)
		}
		if string(principal) != wantPrincipal {
			t.Errorf("%s principal %s, want %s", id, principal, wantPrincipal)
		}
		cond, _ := json.Marshal(st["Condition"])
		wantCond := "null"
		if id == "MemberEventsFromOrganization" {
			// Principal "*" is bounded by the Organization alone.
			wantCond = `{"StringEquals":{"aws:PrincipalOrgID":{"Ref":"OrganizationId"}}}`
		}
		if string(cond) != wantCond {
			t.Errorf("%s condition %s, want %s", id, cond, wantCond)
		}
	}
	for _, c := range []struct {
		params map[string]string
		refuse bool
	}{
		{map[string]string{"SourceAccounts": "organization", "ExternalId": "bucketmirror-ext"}, true},
		{map[string]string{"SourceAccounts": "organization", "ExternalId": "bucketmirror-ext", "OrganizationId": "o-exampleorg1"}, false},
		{map[string]string{"SourceAccounts": "333333333333", "ExternalId": "bucketmirror-ext"}, false},
		{map[string]string{}, false},
	} {
		if got := slices.Contains(refusedBy(t, source, c.params), "OrganizationNeedsItsId"); got != c.refuse {
			t.Errorf("parameters %v: refused by OrganizationNeedsItsId %v, want %v (the organization's bus policy needs its id)", c.params, got, c.refuse)
		}
	}
}
