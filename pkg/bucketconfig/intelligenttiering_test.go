package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestIntelligentTiering(t *testing.T) {
	f := newFixture(t)
	configs := []types.IntelligentTieringConfiguration{
		{Id: aws.String("archive-all"), Status: types.IntelligentTieringStatusEnabled,
			Tierings: []types.Tiering{
				{AccessTier: types.IntelligentTieringAccessTierDeepArchiveAccess, Days: aws.Int32(180)},
				{AccessTier: types.IntelligentTieringAccessTierArchiveAccess, Days: aws.Int32(90)},
			}},
		{Id: aws.String("cold-logs"), Status: types.IntelligentTieringStatusDisabled,
			Filter: &types.IntelligentTieringFilter{And: &types.IntelligentTieringAndOperator{Prefix: aws.String("logs/"),
				Tags: []types.Tag{{Key: aws.String("tier"), Value: aws.String("cold")}, {Key: aws.String("app"), Value: aws.String("web")}}}},
			Tierings: []types.Tiering{{AccessTier: types.IntelligentTieringAccessTierArchiveAccess, Days: aws.Int32(120)}}},
	}
	f.roundTrip("intelligent-tiering",
		func() {
			for _, c := range configs {
				_, err := f.src().PutBucketIntelligentTieringConfiguration(f.ctx, &s3.PutBucketIntelligentTieringConfigurationInput{
					Bucket: &f.m.Source.Name, Id: c.Id, IntelligentTieringConfiguration: &c})
				f.must(err)
			}
		},
		func() {
			for _, c := range configs {
				_, err := f.src().DeleteBucketIntelligentTieringConfiguration(f.ctx, &s3.DeleteBucketIntelligentTieringConfigurationInput{
					Bucket: &f.m.Source.Name, Id: c.Id})
				f.must(err)
			}
		},
		func() {
			out, err := f.dst().ListBucketIntelligentTieringConfigurations(f.ctx, &s3.ListBucketIntelligentTieringConfigurationsInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			got := map[string]types.IntelligentTieringConfiguration{}
			for _, c := range out.IntelligentTieringConfigurationList {
				got[aws.ToString(c.Id)] = c
			}
			all, cold := got["archive-all"], got["cold-logs"]
			if len(got) != 2 || all.Status != types.IntelligentTieringStatusEnabled || all.Filter != nil || len(all.Tierings) != 2 {
				t.Fatalf("destination configurations = %+v", got)
			}
			days := map[types.IntelligentTieringAccessTier]int32{}
			for _, tier := range all.Tierings {
				days[tier.AccessTier] = aws.ToInt32(tier.Days)
			}
			if days[types.IntelligentTieringAccessTierArchiveAccess] != 90 || days[types.IntelligentTieringAccessTierDeepArchiveAccess] != 180 {
				t.Errorf("archive-all tierings = %v", days)
			}
			if cold.Status != types.IntelligentTieringStatusDisabled || cold.Filter == nil || cold.Filter.And == nil ||
				aws.ToString(cold.Filter.And.Prefix) != "logs/" || len(cold.Filter.And.Tags) != 2 ||
				len(cold.Tierings) != 1 || aws.ToInt32(cold.Tierings[0].Days) != 120 {
				t.Errorf("cold-logs = %+v", cold)
			}
		})
}

// TestIntelligentTieringUpdatesInPlace: a configuration changed on the source
// is rewritten, and one the destination has on its own is deleted.
func TestIntelligentTieringUpdatesInPlace(t *testing.T) {
	f := newFixture(t)
	put := func(client *s3.Client, bucket, id string, days int32) {
		_, err := client.PutBucketIntelligentTieringConfiguration(f.ctx, &s3.PutBucketIntelligentTieringConfigurationInput{
			Bucket: &bucket, Id: &id, IntelligentTieringConfiguration: &types.IntelligentTieringConfiguration{Id: &id,
				Status: types.IntelligentTieringStatusEnabled, Tierings: []types.Tiering{{AccessTier: types.IntelligentTieringAccessTierArchiveAccess, Days: &days}}}})
		f.must(err)
	}
	put(f.src(), f.m.Source.Name, "keep", 90)
	put(f.src(), f.m.Source.Name, "change", 100)
	put(f.dst(), f.m.Dest.Name, "keep", 90)
	put(f.dst(), f.m.Dest.Name, "change", 200)
	put(f.dst(), f.m.Dest.Name, "extra", 300)
	calls := f.countCalls()
	if r := f.configure("intelligent-tiering"); r.Status != StatusApplied || r.Action != ActionUpdate {
		t.Fatalf("intelligent-tiering is %s/%s (%s), want update/applied", r.Action, r.Status, r.Error)
	}
	if p, d := calls.get("PutBucketIntelligentTieringConfiguration"), calls.get("DeleteBucketIntelligentTieringConfiguration"); p != 1 || d != 1 {
		t.Errorf("sent %d puts and %d deletes, want 1 and 1", p, d)
	}
	out, err := f.dst().ListBucketIntelligentTieringConfigurations(f.ctx, &s3.ListBucketIntelligentTieringConfigurationsInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	got := map[string]int32{}
	for _, c := range out.IntelligentTieringConfigurationList {
		got[aws.ToString(c.Id)] = aws.ToInt32(c.Tierings[0].Days)
	}
	if len(got) != 2 || got["keep"] != 90 || got["change"] != 100 {
		t.Errorf("destination = %v, want keep:90 change:100", got)
	}
}
