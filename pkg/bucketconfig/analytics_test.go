package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func exportTo(bucketARN, prefix string) *types.StorageClassAnalysis {
	return &types.StorageClassAnalysis{DataExport: &types.StorageClassAnalysisDataExport{
		OutputSchemaVersion: types.StorageClassAnalysisSchemaVersionV1,
		Destination: &types.AnalyticsExportDestination{S3BucketDestination: &types.AnalyticsS3BucketDestination{
			Bucket: aws.String(bucketARN), Format: types.AnalyticsS3ExportFileFormatCsv, Prefix: aws.String(prefix),
			BucketAccountId: aws.String("123456789012")}}}}
}

func (f *fixture) putAnalytics(c types.AnalyticsConfiguration) {
	f.t.Helper()
	_, err := f.src().PutBucketAnalyticsConfiguration(f.ctx, &s3.PutBucketAnalyticsConfigurationInput{Bucket: &f.m.Source.Name, Id: c.Id, AnalyticsConfiguration: &c})
	f.must(err)
}

func (f *fixture) destAnalytics() map[string]types.AnalyticsConfiguration {
	f.t.Helper()
	out, err := f.dst().ListBucketAnalyticsConfigurations(f.ctx, &s3.ListBucketAnalyticsConfigurationsInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	got := map[string]types.AnalyticsConfiguration{}
	for _, c := range out.AnalyticsConfigurationList {
		got[aws.ToString(c.Id)] = c
	}
	return got
}

func exportBucketOf(c types.AnalyticsConfiguration) string {
	if c.StorageClassAnalysis == nil || c.StorageClassAnalysis.DataExport == nil {
		return ""
	}
	return aws.ToString(c.StorageClassAnalysis.DataExport.Destination.S3BucketDestination.Bucket)
}

func TestAnalytics(t *testing.T) {
	f := newFixture(t)
	configs := []types.AnalyticsConfiguration{
		{Id: aws.String("self-export"), Filter: &types.AnalyticsFilterMemberPrefix{Value: "data/"},
			StorageClassAnalysis: exportTo(f.m.Source.ARN(), "analysis/")},
		{Id: aws.String("by-tag"), Filter: &types.AnalyticsFilterMemberTag{Value: types.Tag{Key: aws.String("k"), Value: aws.String("v")}},
			StorageClassAnalysis: &types.StorageClassAnalysis{}},
		{Id: aws.String("by-both"), StorageClassAnalysis: &types.StorageClassAnalysis{},
			Filter: &types.AnalyticsFilterMemberAnd{Value: types.AnalyticsAndOperator{Prefix: aws.String("p/"),
				Tags: []types.Tag{{Key: aws.String("b"), Value: aws.String("2")}, {Key: aws.String("a"), Value: aws.String("1")}}}}},
	}
	f.roundTrip("analytics",
		func() {
			for _, c := range configs {
				f.putAnalytics(c)
			}
		},
		func() {
			for _, c := range configs {
				_, err := f.src().DeleteBucketAnalyticsConfiguration(f.ctx, &s3.DeleteBucketAnalyticsConfigurationInput{Bucket: &f.m.Source.Name, Id: c.Id})
				f.must(err)
			}
		},
		func() {
			got := f.destAnalytics()
			if len(got) != 3 {
				t.Fatalf("destination has %d analytics configurations, want 3: %+v", len(got), got)
			}
			self := got["self-export"]
			if p, ok := self.Filter.(*types.AnalyticsFilterMemberPrefix); !ok || p.Value != "data/" {
				t.Errorf("self-export filter = %#v", self.Filter)
			}
			if b := exportBucketOf(self); b != f.m.Dest.ARN() {
				t.Errorf("self-export exports to %q, want the destination bucket %q", b, f.m.Dest.ARN())
			}
			dest := self.StorageClassAnalysis.DataExport.Destination.S3BucketDestination
			if aws.ToString(dest.Prefix) != "analysis/" || dest.Format != types.AnalyticsS3ExportFileFormatCsv ||
				aws.ToString(dest.BucketAccountId) != "123456789012" ||
				self.StorageClassAnalysis.DataExport.OutputSchemaVersion != types.StorageClassAnalysisSchemaVersionV1 {
				t.Errorf("self-export export = %+v", self.StorageClassAnalysis.DataExport)
			}
			if tag, ok := got["by-tag"].Filter.(*types.AnalyticsFilterMemberTag); !ok || aws.ToString(tag.Value.Key) != "k" || exportBucketOf(got["by-tag"]) != "" {
				t.Errorf("by-tag = %#v", got["by-tag"])
			}
			if and, ok := got["by-both"].Filter.(*types.AnalyticsFilterMemberAnd); !ok || aws.ToString(and.Value.Prefix) != "p/" || len(and.Value.Tags) != 2 {
				t.Errorf("by-both filter = %#v", got["by-both"].Filter)
			}
		})
}

// TestAnalyticsForeignExportDropped: an export to a bucket of the source
// Region cannot be copied (S3 requires the export bucket in the bucket's
// Region) unless Options.Buckets names its counterpart.
func TestAnalyticsForeignExportDropped(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Buckets = map[string]string{"mapped-east": "mapped-west"} })
	foreign := "arn:aws:s3:::some-other-bucket"
	f.putAnalytics(types.AnalyticsConfiguration{Id: aws.String("foreign"), StorageClassAnalysis: exportTo(foreign, "x/")})
	f.putAnalytics(types.AnalyticsConfiguration{Id: aws.String("mapped"), StorageClassAnalysis: exportTo("arn:aws:s3:::mapped-east", "y/")})
	r := f.configure("analytics")
	if r.Status != StatusApplied {
		t.Fatalf("analytics is %s (%s), want applied", r.Status, r.Error)
	}
	n, ok := noteMentioning(r, `"foreign"`, foreign, dstRegion)
	if !ok || n.Severity != SeverityNotCopied || n.Kind != "analytics" {
		t.Errorf("no not-copied note naming the foreign export: %+v", r.Notes)
	}
	if _, ok := noteMentioning(r, "mapped"); ok {
		t.Errorf("a note mentions the mapped configuration: %+v", r.Notes)
	}
	got := f.destAnalytics()
	if _, copied := got["foreign"]; copied || len(got) != 1 {
		t.Errorf("destination = %+v, want only the mapped configuration", got)
	}
	if b := exportBucketOf(got["mapped"]); b != "arn:aws:s3:::mapped-west" {
		t.Errorf("mapped exports to %q, want arn:aws:s3:::mapped-west", b)
	}
	if s := f.planAction("analytics"); s.Action != ActionNone {
		t.Errorf("after configure, plan is %s, want none", s.Action)
	}
}
