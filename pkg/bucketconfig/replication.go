package bucketconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// replicationKind reports the source's replication rules and, only with
// Options.CopyReplication, copies them as they are (same IAM role, same
// destination buckets). Copying is rarely what a mirror wants: the copy
// would replicate the destination's objects into the buckets the source
// already replicates to, from another Region. Replication needs versioning
// on the bucket, hence its dependency on the versioning kind.
var replicationKind = &spec[types.ReplicationConfiguration]{
	name:        "replication",
	readActions: []string{"s3:GetReplicationConfiguration"},
	// PutBucketReplication passes the rules' role to S3; DeleteBucketReplication
	// is authorised by s3:PutReplicationConfiguration.
	writeActions: []string{"s3:PutReplicationConfiguration", "iam:PassRole"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.ReplicationConfiguration, error) {
		out, err := e.s3(b).GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchReplication) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if out.ReplicationConfiguration == nil || len(out.ReplicationConfiguration.Rules) == 0 {
			return nil, nil
		}
		cfg := canonicalReplication(*out.ReplicationConfiguration)
		return &cfg, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.ReplicationConfiguration) error {
		_, err := e.s3(b).PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: &b.Name, ReplicationConfiguration: v})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: &b.Name})
		return err
	},
	isManaged: func(e *Engine) bool { return e.opts.CopyReplication },
	xform: func(_ context.Context, e *Engine, m Mirror, v *types.ReplicationConfiguration) (*types.ReplicationConfiguration, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		targets := replicationTargets(*v)
		if !e.opts.CopyReplication {
			return v, []Note{{Severity: SeverityNotCopied, Message: fmt.Sprintf(
				"%s has %d replication rule(s) (role %s, replicating to %s); they are not copied to %s: enable the CopyReplication option to copy them unchanged",
				m.Source.Name, len(v.Rules), aws.ToString(v.Role), strings.Join(targets, ", "), m.Dest)}}, nil
		}
		// S3 assumes the replication role on behalf of the bucket's owner, so
		// the role is one of the owner's account (User Guide, "Setting up
		// permissions for live replication", step 2:
		// https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html).
		// Copied unchanged into another account, the source's role would
		// be refused or, worse, trusted: the destination's account needs a
		// role of its own.
		if src, dst := e.accountOf(m.Source), e.accountOf(m.Dest); src != dst {
			if role := aws.ToString(v.Role); iamAccount(role) != dst {
				return nil, []Note{{Severity: SeverityNotCopied, Message: fmt.Sprintf(
					"%s has %d replication rule(s) with role %s of account %s; they are not copied to %s in account %s: replication there needs a role of account %s (copy the rules by hand with one)",
					m.Source.Name, len(v.Rules), role, iamAccount(role), m.Dest, dst, dst)}}, nil
			}
		}
		return v, []Note{{Severity: SeverityInfo, Message: fmt.Sprintf(
			"%d replication rule(s) copied unchanged: %s now also replicates to %s with role %s",
			len(v.Rules), m.Dest.Name, strings.Join(targets, ", "), aws.ToString(v.Role))}}, nil
	},
}

// iamAccount is the account of an IAM ARN (arn:aws:iam::ACCOUNT:role/x),
// or "" for anything else.
func iamAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "iam" {
		return ""
	}
	return parts[4]
}

// canonicalReplication orders the rules by ID (S3 chooses between
// overlapping rules by Priority, never by position) and the tags of And
// filters.
func canonicalReplication(cfg types.ReplicationConfiguration) types.ReplicationConfiguration {
	cfg.Rules = slices.Clone(cfg.Rules)
	slices.SortFunc(cfg.Rules, func(a, b types.ReplicationRule) int { return strings.Compare(aws.ToString(a.ID), aws.ToString(b.ID)) })
	for i, r := range cfg.Rules {
		if r.Filter != nil && r.Filter.And != nil {
			and := *r.Filter.And
			and.Tags = sortedTags(and.Tags)
			filter := *r.Filter
			filter.And = &and
			cfg.Rules[i].Filter = &filter
		}
	}
	return cfg
}

// replicationTargets lists the destination buckets of the rules, once each.
func replicationTargets(cfg types.ReplicationConfiguration) []string {
	var out []string
	for _, r := range cfg.Rules {
		if r.Destination != nil && !slices.Contains(out, aws.ToString(r.Destination.Bucket)) {
			out = append(out, aws.ToString(r.Destination.Bucket))
		}
	}
	return out
}
