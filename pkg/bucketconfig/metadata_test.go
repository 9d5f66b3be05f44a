package bucketconfig

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// assertMetadataOnlyReported configures the mirror and checks that metadata
// is reported with a note naming tableBucket, and that nothing was written.
func (f *fixture) assertMetadataOnlyReported(tableBucket string) Result {
	f.t.Helper()
	calls := f.countCalls()
	r := f.configure("metadata")
	if r.Status != StatusReported || r.Action != ActionReport {
		f.t.Fatalf("metadata is %s/%s (%s), want report/reported", r.Action, r.Status, r.Error)
	}
	n, ok := noteMentioning(r, tableBucket, dstRegion)
	if !ok || n.Severity != SeverityNotCopied || n.Kind != "metadata" {
		f.t.Errorf("no not-copied note naming table bucket %s: %+v", tableBucket, r.Notes)
	}
	for _, op := range []string{"CreateBucketMetadataConfiguration", "CreateBucketMetadataTableConfiguration",
		"DeleteBucketMetadataConfiguration", "DeleteBucketMetadataTableConfiguration"} {
		if got := calls.get(op); got != 0 {
			f.t.Errorf("configure sent %d %s", got, op)
		}
	}
	_, err := f.dst().GetBucketMetadataConfiguration(f.ctx, &s3.GetBucketMetadataConfigurationInput{Bucket: &f.m.Dest.Name})
	if ErrorCode(err) != codeNoSuchMetadataConfiguration {
		f.t.Errorf("destination metadata configuration: err %v, want %s", err, codeNoSuchMetadataConfiguration)
	}
	return r
}

func TestMetadataReported(t *testing.T) {
	f := newFixture(t)
	_, err := f.src().CreateBucketMetadataConfiguration(f.ctx, &s3.CreateBucketMetadataConfigurationInput{Bucket: &f.m.Source.Name,
		MetadataConfiguration: &types.MetadataConfiguration{
			JournalTableConfiguration:   &types.JournalTableConfiguration{RecordExpiration: &types.RecordExpiration{Expiration: types.ExpirationStateEnabled, Days: aws.Int32(30)}},
			InventoryTableConfiguration: &types.InventoryTableConfiguration{ConfigurationState: types.InventoryConfigurationStateEnabled},
		}})
	f.must(err)

	snap := f.engine.Snapshot(f.ctx, f.m.Source)
	got, ok := snap.Values["metadata"].(*metadataConfig)
	tableBucket := "arn:aws:s3tables:us-east-1:123456789012:bucket/aws-s3"
	if !ok || got.Legacy || got.TableBucketArn != tableBucket || got.TableBucketType != types.S3TablesBucketTypeAws ||
		got.TableNamespace != "b_"+f.m.Source.Name || got.JournalTableName != "journal" || got.JournalRecordExpiration == nil ||
		aws.ToInt32(got.JournalRecordExpiration.Days) != 30 || got.InventoryTableState != types.InventoryConfigurationStateEnabled {
		t.Errorf("source metadata = %+v (errors %v)", snap.Values["metadata"], snap.Errors)
	}

	r := f.assertMetadataOnlyReported(tableBucket)
	cmd := r.Notes[0].Command
	for _, want := range []string{"create-bucket-metadata-configuration", "--bucket " + f.m.Dest.Name, "--region " + dstRegion,
		`"Expiration":"ENABLED"`, `"Days":30`, `"ConfigurationState":"ENABLED"`} {
		if !strings.Contains(cmd, want) {
			t.Errorf("note command %q lacks %q", cmd, want)
		}
	}
}

func TestMetadataLegacyReported(t *testing.T) {
	f := newFixture(t)
	tableBucket := "arn:aws:s3tables:us-east-1:123456789012:bucket/team-tables"
	_, err := f.src().CreateBucketMetadataTableConfiguration(f.ctx, &s3.CreateBucketMetadataTableConfigurationInput{Bucket: &f.m.Source.Name,
		MetadataTableConfiguration: &types.MetadataTableConfiguration{S3TablesDestination: &types.S3TablesDestination{
			TableBucketArn: aws.String(tableBucket), TableName: aws.String("src_journal")}}})
	f.must(err)
	f.assertMetadataOnlyReported(tableBucket)
}

func TestMetadataAbsent(t *testing.T) {
	f := newFixture(t)
	// Nothing on the source, nothing to report: the plan and result say so.
	if r := f.configure("metadata"); r.Status != StatusUnchanged || r.Action != ActionNone || len(r.Notes) != 0 {
		t.Errorf("metadata without a configuration: %s with notes %+v, want unchanged without notes", r.Status, r.Notes)
	}
	if v, ok := f.engine.Snapshot(f.ctx, f.m.Source).Values["metadata"]; ok {
		t.Errorf("source without S3 Metadata reads as %+v, want absent", v)
	}
}
