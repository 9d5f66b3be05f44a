package bucketconfig

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listMetrics reads every page of a bucket's metrics configurations through
// the SDK, returning them by id and the number of pages.
func (f *fixture) listMetrics(client *s3.Client, bucket string) (map[string]types.MetricsConfiguration, int) {
	f.t.Helper()
	all := map[string]types.MetricsConfiguration{}
	pages := 0
	var token *string
	for {
		out, err := client.ListBucketMetricsConfigurations(f.ctx, &s3.ListBucketMetricsConfigurationsInput{Bucket: &bucket, ContinuationToken: token})
		f.must(err)
		pages++
		for _, c := range out.MetricsConfigurationList {
			all[aws.ToString(c.Id)] = c
		}
		if !aws.ToBool(out.IsTruncated) {
			return all, pages
		}
		token = out.NextContinuationToken
	}
}

func (f *fixture) putMetrics(id string, filter types.MetricsFilter) {
	f.t.Helper()
	_, err := f.src().PutBucketMetricsConfiguration(f.ctx, &s3.PutBucketMetricsConfigurationInput{Bucket: &f.m.Source.Name, Id: &id,
		MetricsConfiguration: &types.MetricsConfiguration{Id: &id, Filter: filter}})
	f.must(err)
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	filters := map[string]types.MetricsFilter{
		"everything": nil,
		"logs":       &types.MetricsFilterMemberPrefix{Value: "logs/"},
		"team":       &types.MetricsFilterMemberTag{Value: types.Tag{Key: aws.String("team"), Value: aws.String("data")}},
		"both": &types.MetricsFilterMemberAnd{Value: types.MetricsAndOperator{Prefix: aws.String("raw/"),
			Tags: []types.Tag{{Key: aws.String("z"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}}},
	}
	f.roundTrip("metrics",
		func() {
			for id, filter := range filters {
				f.putMetrics(id, filter)
			}
		},
		func() {
			for id := range filters {
				_, err := f.src().DeleteBucketMetricsConfiguration(f.ctx, &s3.DeleteBucketMetricsConfigurationInput{Bucket: &f.m.Source.Name, Id: aws.String(id)})
				f.must(err)
			}
		},
		func() {
			got, _ := f.listMetrics(f.dst(), f.m.Dest.Name)
			if len(got) != len(filters) {
				t.Fatalf("destination has %d metrics configurations, want %d: %v", len(got), len(filters), got)
			}
			if got["everything"].Filter != nil {
				t.Errorf("everything: filter %#v, want none", got["everything"].Filter)
			}
			if p, ok := got["logs"].Filter.(*types.MetricsFilterMemberPrefix); !ok || p.Value != "logs/" {
				t.Errorf("logs: filter %#v", got["logs"].Filter)
			}
			if tag, ok := got["team"].Filter.(*types.MetricsFilterMemberTag); !ok || aws.ToString(tag.Value.Key) != "team" || aws.ToString(tag.Value.Value) != "data" {
				t.Errorf("team: filter %#v", got["team"].Filter)
			}
			and, ok := got["both"].Filter.(*types.MetricsFilterMemberAnd)
			if !ok || aws.ToString(and.Value.Prefix) != "raw/" || len(and.Value.Tags) != 2 {
				t.Fatalf("both: filter %#v", got["both"].Filter)
			}
			tags := map[string]string{}
			for _, tag := range and.Value.Tags {
				tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if !reflect.DeepEqual(tags, map[string]string{"a": "2", "z": "1"}) {
				t.Errorf("both: tags %v", tags)
			}
		})
}

// TestMetricsPaginates: 250 configurations take three pages of 100; every one
// is copied, and removing one from the source removes just that one.
func TestMetricsPaginates(t *testing.T) {
	f := newFixture(t)
	const n = 250
	id := func(i int) string { return fmt.Sprintf("m-%03d", i) }
	for i := range n {
		f.putMetrics(id(i), &types.MetricsFilterMemberPrefix{Value: fmt.Sprintf("p%d/", i)})
	}
	calls := f.countCalls()
	if r := f.configure("metrics"); r.Status != StatusApplied {
		t.Fatalf("configure: metrics is %s (%s), want applied", r.Status, r.Error)
	}
	if got := calls.get("PutBucketMetricsConfiguration"); got != n {
		t.Errorf("configure sent %d PutBucketMetricsConfiguration, want %d", got, n)
	}
	got, pages := f.listMetrics(f.dst(), f.m.Dest.Name)
	if len(got) != n || pages != 3 {
		t.Fatalf("destination has %d metrics configurations in %d pages, want %d in 3", len(got), pages, n)
	}
	for i := range n {
		p, ok := got[id(i)].Filter.(*types.MetricsFilterMemberPrefix)
		if !ok || p.Value != fmt.Sprintf("p%d/", i) {
			t.Fatalf("destination %s: filter %#v", id(i), got[id(i)].Filter)
		}
	}
	if s := f.planAction("metrics"); s.Action != ActionNone {
		t.Fatalf("after configure, plan is %s, want none", s.Action)
	}

	removed := id(137)
	_, err := f.src().DeleteBucketMetricsConfiguration(f.ctx, &s3.DeleteBucketMetricsConfigurationInput{Bucket: &f.m.Source.Name, Id: &removed})
	f.must(err)
	calls.reset()
	if r := f.configure("metrics"); r.Status != StatusApplied || r.Action != ActionUpdate {
		t.Fatalf("after removing %s from the source: metrics is %s/%s (%s), want update/applied", removed, r.Action, r.Status, r.Error)
	}
	if del, put := calls.get("DeleteBucketMetricsConfiguration"), calls.get("PutBucketMetricsConfiguration"); del != 1 || put != 0 {
		t.Errorf("removing one configuration sent %d deletes and %d puts, want 1 and 0", del, put)
	}
	got, _ = f.listMetrics(f.dst(), f.m.Dest.Name)
	if _, still := got[removed]; still || len(got) != n-1 {
		t.Errorf("destination has %d configurations (%s present: %v), want %d without it", len(got), removed, still, n-1)
	}
	if s := f.planAction("metrics"); s.Action != ActionNone {
		t.Fatalf("after the removal, plan is %s, want none", s.Action)
	}
}

// TestMetricsAccessPointNotCopied: an access point belongs to the source
// bucket, so a filter on one cannot be copied; the rest still is.
func TestMetricsAccessPointNotCopied(t *testing.T) {
	f := newFixture(t)
	ap := "arn:aws:s3:us-east-1:123456789012:accesspoint/reports"
	f.putMetrics("by-ap", &types.MetricsFilterMemberAccessPointArn{Value: ap})
	f.putMetrics("by-and-ap", &types.MetricsFilterMemberAnd{Value: types.MetricsAndOperator{AccessPointArn: aws.String(ap), Prefix: aws.String("x/")}})
	f.putMetrics("plain", nil)
	r := f.configure("metrics")
	if r.Status != StatusApplied {
		t.Fatalf("metrics is %s (%s), want applied", r.Status, r.Error)
	}
	for _, id := range []string{"by-ap", "by-and-ap"} {
		if n, ok := noteMentioning(r, id, ap); !ok || n.Severity != SeverityNotCopied || n.Kind != "metrics" {
			t.Errorf("no not-copied note for %s: %+v", id, r.Notes)
		}
	}
	got, _ := f.listMetrics(f.dst(), f.m.Dest.Name)
	if len(got) != 1 || got["plain"].Id == nil {
		t.Errorf("destination = %v, want only plain", got)
	}
}
