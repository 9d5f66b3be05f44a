package sweep

import (
	"slices"
	"testing"
)

func TestChangeEventKinds(t *testing.T) {
	for name, kinds := range changeEvents {
		got, ok := KindsOfEvent(name)
		if !ok || len(got) != len(kinds) || (kinds == nil) != (got == nil) {
			t.Errorf("%s: kinds %v from %v: a name that is not a catalog kind", name, got, kinds)
		}
	}
	for name, want := range map[string][]string{
		"PutBucketCors":              {"cors"},
		"DeleteBucketCors":           {"cors"},
		"PutBucketOwnershipControls": {"ownership", "acl"},
		"PutBucketTagging":           {"tags"},
		"TagResource":                {"tags"},
		"UntagResource":              {"tags"},
		"PutPublicAccessBlock":       {"public-access-block", "acl", "policy"},
		"CreateBucket":               nil,
		"DeleteBucket":               nil,
	} {
		if got, _ := KindsOfEvent(name); !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%s -> %v, want %v", name, got, want)
		}
	}
	if _, ok := KindsOfEvent("PutObject"); ok {
		t.Error("PutObject is not a bucket change")
	}
	if names := BucketChangeEvents(); len(names) != len(changeEvents) || !slices.IsSorted(names) {
		t.Errorf("BucketChangeEvents() = %v", names)
	}
}
