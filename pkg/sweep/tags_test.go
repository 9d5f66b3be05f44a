package sweep

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTargets(t *testing.T) {
	c := Config{Regions: []string{"us-east-1", "us-west-2", "eu-central-1"}, AccountID: "123456789012"}.withDefaults()
	tags := func(regions string, dest ...string) map[string]string {
		m := map[string]string{"bucketmirror:destination-regions": regions, "team": "data"}
		if len(dest) > 0 {
			m["bucketmirror:destination-bucket"] = dest[0]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		tags    map[string]string
		targets []target
		invalid map[string]string // Region -> part of the message
	}{
		{name: "one", tags: tags("us-west-2"), targets: []target{{Region: "us-west-2"}}},
		{name: "two, extra spaces, repeated", tags: tags("  us-west-2   eu-central-1 us-west-2 "), targets: []target{{Region: "eu-central-1"}, {Region: "us-west-2"}}},
		{name: "explicit destination", tags: tags("us-west-2", "my-copy"), targets: []target{{Region: "us-west-2", Dest: "my-copy"}}},
		{name: "unknown Region", tags: tags("us-west-2 mars-1"), targets: []target{{Region: "us-west-2"}}, invalid: map[string]string{"mars-1": "not a known AWS Region"}},
		{name: "commas", tags: tags("us-west-2,eu-central-1"), invalid: map[string]string{"us-west-2,eu-central-1": "separated by spaces"}},
		{name: "own Region", tags: tags("us-east-1"), invalid: map[string]string{"us-east-1": "own Region"}},
		{name: "Region not deployed", tags: tags("ap-south-1"), invalid: map[string]string{"ap-south-1": "not one of this deployment's destination Regions (us-east-1 us-west-2 eu-central-1)"}},
		{name: "destination with two Regions", tags: tags("us-west-2 eu-central-1", "my-copy"), invalid: map[string]string{"us-west-2": "single Region", "eu-central-1": "single Region"}},
		{name: "bad destination name", tags: tags("us-west-2", "My_Copy"), invalid: map[string]string{"us-west-2": "not a valid bucket name"}},
		{name: "destination is the source", tags: tags("us-west-2", "src-bucket"), invalid: map[string]string{"us-west-2": "the source bucket itself"}},
		{name: "empty", tags: tags("  "), invalid: map[string]string{"-": "names no Region"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets, invalid := parseTargets(c, "src-bucket", "us-east-1", tc.tags)
			if !reflect.DeepEqual(targets, tc.targets) {
				t.Errorf("targets = %+v, want %+v", targets, tc.targets)
			}
			if len(invalid) != len(tc.invalid) {
				t.Fatalf("invalid = %+v, want %d", invalid, len(tc.invalid))
			}
			for _, inv := range invalid {
				want, ok := tc.invalid[inv.Region]
				value := tc.tags["bucketmirror:destination-regions"]
				if !ok || !strings.Contains(inv.Message, want) || !strings.Contains(inv.Message, `"src-bucket"`) || !strings.Contains(inv.Message, `"`+value+`"`) {
					t.Errorf("invalid %s: %q, want a message naming the bucket, the value %q and saying %q", inv.Region, inv.Message, value, want)
				}
			}
		})
	}
}

func TestExecutionName(t *testing.T) {
	long := strings.Repeat("a.b-", 15) + "end" // 63 characters with dots
	name := ExecutionName(long, "ap-southeast-7", "h1", "", "")
	if len(name) > 80 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		t.Errorf("%q is not a valid execution name (%d characters)", name, len(name))
	}
	if ExecutionName(long, "ap-southeast-7", "h1", "", "") != name {
		t.Error("not deterministic")
	}
	seen := map[string]bool{name: true}
	for _, other := range []string{
		ExecutionName(long, "us-west-2", "h1", "", ""),
		ExecutionName(long, "ap-southeast-7", "h2", "", ""),
		ExecutionName(long, "ap-southeast-7", "h1", "d1", ""),
		ExecutionName(long, "ap-southeast-7", "h1", "", "run-1"),
		ExecutionName(long+"x", "ap-southeast-7", "h1", "", ""),
	} {
		if seen[other] {
			t.Errorf("%q repeats a name for different work", other)
		}
		seen[other] = true
	}
	if got := ExecutionName("logs.example", "eu-west-1", "h", "", ""); !strings.HasPrefix(got, "logs-example-eu-west-1-") {
		t.Errorf("short name %q", got)
	}
}
