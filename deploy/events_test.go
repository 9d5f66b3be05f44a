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
	homeBus := "arn:${AWS::Partition}:events:${HomeRegion}:${AWS::AccountId}:event-bus/${HomeEventBusName}"
	if arn := values(target["Arn"]); !slices.Equal(arn, []string{homeBus}) {
		t.Errorf("target %v, want the home Region's bus %s", arn, homeBus)
	}
	if role := values(target["RoleArn"]); !slices.Equal(role, []string{"${ForwardRole.Arn}"}) {
		t.Errorf("target role %v, want ForwardRole (a cross-Region bus target needs one)", role)
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
