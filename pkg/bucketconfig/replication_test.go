package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const replicationRole = "arn:aws:iam::123456789012:role/replication"

// setUpReplication enables versioning on both buckets and on a replica
// bucket, then puts two rules on the source replicating into the replica.
func (f *fixture) setUpReplication() (replicaARN string) {
	f.t.Helper()
	replica := Bucket{Name: uniqueBucket(f.t, "rep"), Region: "eu-west-1"}
	f.createBucket(replica, false)
	for _, b := range []Bucket{f.m.Source, f.m.Dest, replica} {
		_, err := f.clients.S3(b.Region).PutBucketVersioning(f.ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b.Name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		f.must(err)
	}
	_, err := f.src().PutBucketReplication(f.ctx, &s3.PutBucketReplicationInput{Bucket: &f.m.Source.Name,
		ReplicationConfiguration: &types.ReplicationConfiguration{Role: aws.String(replicationRole), Rules: []types.ReplicationRule{
			{ID: aws.String("logs"), Priority: aws.Int32(1), Status: types.ReplicationRuleStatusEnabled,
				Filter:                  &types.ReplicationRuleFilter{Prefix: aws.String("logs/")},
				DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusEnabled},
				Destination:             &types.Destination{Bucket: aws.String(replica.ARN()), StorageClass: types.StorageClassStandardIa}},
			{ID: aws.String("docs"), Priority: aws.Int32(2), Status: types.ReplicationRuleStatusDisabled,
				Filter: &types.ReplicationRuleFilter{And: &types.ReplicationRuleAndOperator{Prefix: aws.String("docs/"),
					Tags: []types.Tag{{Key: aws.String("copy"), Value: aws.String("yes")}, {Key: aws.String("class"), Value: aws.String("a")}}}},
				DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusDisabled},
				Destination:             &types.Destination{Bucket: aws.String(replica.ARN())}},
		}}})
	f.must(err)
	return replica.ARN()
}

func TestReplicationReportedByDefault(t *testing.T) {
	f := newFixture(t)
	f.setUpReplication()
	r := f.configure("replication")
	if r.Status != StatusReported || r.Action != ActionReport {
		t.Fatalf("replication is %s/%s (%s), want report/reported", r.Action, r.Status, r.Error)
	}
	if n, ok := noteMentioning(r, "2 replication rule", "CopyReplication"); !ok || n.Severity != SeverityNotCopied || n.Kind != "replication" {
		t.Errorf("no not-copied note with the rule count and the option: %+v", r.Notes)
	}
	_, err := f.dst().GetBucketReplication(f.ctx, &s3.GetBucketReplicationInput{Bucket: &f.m.Dest.Name})
	if ErrorCode(err) != codeNoSuchReplication {
		t.Errorf("destination replication: err %v, want %s (untouched)", err, codeNoSuchReplication)
	}
}

func TestReplicationNoNoteWithoutRules(t *testing.T) {
	f := newFixture(t)
	// Nothing on the source, nothing to report: the plan and result say so.
	if r := f.configure("replication"); r.Status != StatusUnchanged || r.Action != ActionNone || len(r.Notes) != 0 {
		t.Errorf("replication without rules: %s with notes %+v, want unchanged without notes", r.Status, r.Notes)
	}
}

func TestReplicationCopied(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CopyReplication = true })
	var replicaARN string
	f.roundTrip("replication",
		func() { replicaARN = f.setUpReplication() },
		func() {
			_, err := f.src().DeleteBucketReplication(f.ctx, &s3.DeleteBucketReplicationInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetBucketReplication(f.ctx, &s3.GetBucketReplicationInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			cfg := out.ReplicationConfiguration
			if aws.ToString(cfg.Role) != replicationRole || len(cfg.Rules) != 2 {
				t.Fatalf("destination replication = %+v", cfg)
			}
			rules := map[string]types.ReplicationRule{}
			for _, r := range cfg.Rules {
				rules[aws.ToString(r.ID)] = r
				if aws.ToString(r.Destination.Bucket) != replicaARN {
					t.Errorf("rule %s replicates to %s, want %s unchanged", aws.ToString(r.ID), aws.ToString(r.Destination.Bucket), replicaARN)
				}
			}
			logs, docs := rules["logs"], rules["docs"]
			if logs.Status != types.ReplicationRuleStatusEnabled || aws.ToInt32(logs.Priority) != 1 || logs.Filter == nil ||
				aws.ToString(logs.Filter.Prefix) != "logs/" || logs.DeleteMarkerReplication == nil ||
				logs.DeleteMarkerReplication.Status != types.DeleteMarkerReplicationStatusEnabled ||
				logs.Destination.StorageClass != types.StorageClassStandardIa {
				t.Errorf("logs rule = %+v", logs)
			}
			if docs.Status != types.ReplicationRuleStatusDisabled || aws.ToInt32(docs.Priority) != 2 || docs.Filter == nil ||
				docs.Filter.And == nil || aws.ToString(docs.Filter.And.Prefix) != "docs/" || len(docs.Filter.And.Tags) != 2 {
				t.Errorf("docs rule = %+v", docs)
			}
		})
}
