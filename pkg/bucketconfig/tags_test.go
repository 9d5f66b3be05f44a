package bucketconfig

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func tagList(kv ...string) []types.Tag {
	var tags []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return tags
}

func (f *fixture) putTags(b Bucket, kv ...string) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &b.Name,
		Tagging: &types.Tagging{TagSet: tagList(kv...)}})
	f.must(err)
}

// readTags returns b's tags as "key=value" in key order.
func (f *fixture) readTags(b Bucket) []string {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketTagging(f.ctx, &s3.GetBucketTaggingInput{Bucket: &b.Name})
	if ErrorCode(err) == codeNoSuchTagSet {
		return nil
	}
	f.must(err)
	tags := out.TagSet
	sortTags(tags)
	var kv []string
	for _, t := range tags {
		kv = append(kv, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return kv
}

func (f *fixture) wantTags(b Bucket, want ...string) {
	f.t.Helper()
	if got := f.readTags(b); !reflect.DeepEqual(got, want) {
		f.t.Errorf("tags of %s = %q, want %q", b, got, want)
	}
}

func TestTags(t *testing.T) {
	f := newFixture(t)
	source := "bucketmirror:source=arn:aws:s3:::" + f.m.Source.Name
	f.roundTrip("tags",
		func() {
			f.putTags(f.m.Source, "team", "data", "bucketmirror:destination-regions", "us-west-2 eu-central-1", "env", "prod")
		},
		// Left with its control tag only, the source has nothing to copy.
		func() { f.putTags(f.m.Source, "bucketmirror:destination-regions", "us-west-2") },
		func() { f.wantTags(f.m.Dest, source, "env=prod", "team=data") })
	// Removing never takes the source tag away.
	f.wantTags(f.m.Dest, source)

	// Tags changed on both sides: the destination gets exactly the source's.
	f.putTags(f.m.Source, "team", "analytics", "cost-center", "42")
	f.putTags(f.m.Dest, "team", "data", "stray", "x", "bucketmirror:source", "arn:aws:s3:::"+f.m.Source.Name)
	if r := f.configure("tags"); r.Status != StatusApplied || r.Action != ActionUpdate {
		t.Fatalf("changed tags: %s/%s (%s), want update/applied", r.Action, r.Status, r.Error)
	}
	f.wantTags(f.m.Dest, source, "cost-center=42", "team=analytics")
	if s := f.planAction("tags"); s.Action != ActionNone {
		t.Errorf("after update, plan is %s (current %s, desired %s), want none", s.Action, s.Current, s.Desired)
	}

	// A source without any tag: the destination keeps exactly its source tag.
	_, err := f.src().DeleteBucketTagging(f.ctx, &s3.DeleteBucketTaggingInput{Bucket: &f.m.Source.Name})
	f.must(err)
	if r := f.configure("tags"); r.Status != StatusRemoved {
		t.Fatalf("untagged source: %s (%s), want removed", r.Status, r.Error)
	}
	f.wantTags(f.m.Dest, source)
	if s := f.planAction("tags"); s.Action != ActionNone || s.Current != nil {
		t.Errorf("after removal, plan is %s (current %s), want none and absent", s.Action, s.Current)
	}
}

func TestTagsCustomPrefix(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TagPrefix = "mirror/" })
	f.putTags(f.m.Source, "mirror/destination-regions", "us-west-2", "bucketmirror:source", "looks-like-ours", "app", "x")
	if r := f.configure("tags"); r.Status != StatusApplied {
		t.Fatalf("configure: %s (%s), want applied", r.Status, r.Error)
	}
	// Only the configured prefix marks control tags.
	f.wantTags(f.m.Dest, "app=x", "bucketmirror:source=looks-like-ours", "mirror/source=arn:aws:s3:::"+f.m.Source.Name)
}

func TestTagsSystemTagsNotCopied(t *testing.T) {
	e := New(nil, Options{})
	m := Mirror{Source: Bucket{Name: "src-bucket", Region: srcRegion}, Dest: Bucket{Name: "dst-bucket", Region: dstRegion}}
	// The local cloud, like S3, refuses aws: tags on PutBucketTagging, so
	// the transform is tested on a value as GetBucketTagging returns it for a
	// bucket made by CloudFormation.
	in := tagList("aws:cloudformation:stack-name", "web", "owner", "me", "bucketmirror:destination-regions", "us-west-2")
	out, notes, err := tagsKind.transform(context.Background(), e, m, &in)
	if err != nil {
		t.Fatal(err)
	}
	got := *out.(*[]types.Tag)
	if want := tagList("bucketmirror:source", "arn:aws:s3:::src-bucket", "owner", "me"); !reflect.DeepEqual(got, want) {
		t.Errorf("desired tags = %v, want %v", got, want)
	}
	if len(notes) != 1 || notes[0].Severity != SeverityNotCopied || notes[0].Kind != "tags" ||
		!strings.Contains(notes[0].Message, "aws:cloudformation:stack-name") {
		t.Errorf("notes = %+v, want one not-copied note naming the aws: tag", notes)
	}

	// Nothing left to copy: absent, still with the note.
	only := tagList("aws:cloudformation:stack-name", "web", "bucketmirror:destination-regions", "us-west-2")
	out, notes, err = tagsKind.transform(context.Background(), e, m, &only)
	if err != nil || out != nil || len(notes) != 1 {
		t.Errorf("only system and control tags: desired %v, notes %+v, err %v; want absent with a note", out, notes, err)
	}
}

func TestTagsOverLimit(t *testing.T) {
	e := New(nil, Options{})
	m := Mirror{Source: Bucket{Name: "src-bucket", Region: srcRegion}, Dest: Bucket{Name: "dst-bucket", Region: dstRegion}}
	var kv []string
	for i := range maxBucketTags {
		kv = append(kv, fmt.Sprintf("k%02d", i), "v")
	}
	in := tagList(kv...)
	if _, _, err := tagsKind.transform(context.Background(), e, m, &in); err == nil || !strings.Contains(err.Error(), "limit of 50") {
		t.Errorf("50 source tags plus the source tag: err %v, want the limit named", err)
	}
	in = in[:maxBucketTags-1]
	if _, _, err := tagsKind.transform(context.Background(), e, m, &in); err != nil {
		t.Errorf("49 source tags: %v", err)
	}
}

// TestTagsControlTagsLeaveTheHashAlone: the sweep compares source snapshot
// hashes; a change to the Regions a source asks for must not look like a
// configuration change of the source (it would re-run every Region).
func TestTagsControlTagsLeaveTheHashAlone(t *testing.T) {
	f := newFixture(t)
	put := func(regions, team string) string {
		t.Helper()
		_, err := f.src().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &f.m.Source.Name, Tagging: &types.Tagging{TagSet: []types.Tag{
			{Key: aws.String("bucketmirror:destination-regions"), Value: aws.String(regions)},
			{Key: aws.String("team"), Value: aws.String(team)}}}})
		f.must(err)
		return f.engine.Snapshot(f.ctx, f.m.Source).Hash()
	}
	base := put("us-west-2", "web")
	if h := put("us-west-2 eu-central-1", "web"); h != base {
		t.Error("adding a destination Region changed the source snapshot hash")
	}
	if h := put("us-west-2", "data"); h == base {
		t.Error("changing a user tag did not change the source snapshot hash")
	}
}
