package bucketconfig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// analyticsConfig is a storage class analysis configuration in canonical
// form (its filter is a union the SDK cannot marshal).
type analyticsConfig struct {
	Id                   string
	Filter               *filterDoc                  `json:",omitempty"`
	StorageClassAnalysis *types.StorageClassAnalysis `json:",omitempty"`
}

// exportBucket is the bucket ARN the analysis is exported to, or "".
func (c analyticsConfig) exportBucket() string {
	if c.StorageClassAnalysis == nil || c.StorageClassAnalysis.DataExport == nil ||
		c.StorageClassAnalysis.DataExport.Destination == nil || c.StorageClassAnalysis.DataExport.Destination.S3BucketDestination == nil {
		return ""
	}
	return aws.ToString(c.StorageClassAnalysis.DataExport.Destination.S3BucketDestination.Bucket)
}

// withExportBucket returns c exporting to bucketARN, sharing nothing with c.
func (c analyticsConfig) withExportBucket(bucketARN string) analyticsConfig {
	dest := *c.StorageClassAnalysis.DataExport.Destination.S3BucketDestination
	dest.Bucket = aws.String(bucketARN)
	export := *c.StorageClassAnalysis.DataExport
	export.Destination = &types.AnalyticsExportDestination{S3BucketDestination: &dest}
	c.StorageClassAnalysis = &types.StorageClassAnalysis{DataExport: &export}
	return c
}

var analyticsList = &idList[analyticsConfig]{
	kind: "analytics",
	page: func(ctx context.Context, c *s3.Client, bucket string, token *string) ([]analyticsConfig, bool, *string, error) {
		out, err := c.ListBucketAnalyticsConfigurations(ctx, &s3.ListBucketAnalyticsConfigurationsInput{Bucket: &bucket, ContinuationToken: token})
		if err != nil {
			return nil, false, nil, err
		}
		items := make([]analyticsConfig, 0, len(out.AnalyticsConfigurationList))
		for _, cfg := range out.AnalyticsConfigurationList {
			filter, err := analyticsFilterDoc(cfg.Filter)
			if err != nil {
				return nil, false, nil, fmt.Errorf("analytics configuration %q: %w", aws.ToString(cfg.Id), err)
			}
			items = append(items, analyticsConfig{Id: aws.ToString(cfg.Id), Filter: filter, StorageClassAnalysis: cfg.StorageClassAnalysis})
		}
		return items, aws.ToBool(out.IsTruncated), out.NextContinuationToken, nil
	},
	putOne: func(ctx context.Context, c *s3.Client, bucket string, v analyticsConfig) error {
		analysis := v.StorageClassAnalysis
		if analysis == nil {
			analysis = &types.StorageClassAnalysis{} // required by the API, even when empty
		}
		_, err := c.PutBucketAnalyticsConfiguration(ctx, &s3.PutBucketAnalyticsConfigurationInput{Bucket: &bucket, Id: &v.Id,
			AnalyticsConfiguration: &types.AnalyticsConfiguration{Id: &v.Id, Filter: v.Filter.analytics(), StorageClassAnalysis: analysis}})
		return err
	},
	delOne: func(ctx context.Context, c *s3.Client, bucket, id string) error {
		_, err := c.DeleteBucketAnalyticsConfiguration(ctx, &s3.DeleteBucketAnalyticsConfigurationInput{Bucket: &bucket, Id: &id})
		return err
	},
	id: func(v analyticsConfig) string { return v.Id },
}

// analyticsKind copies the storage class analysis configurations. An export
// must go to a bucket in the destination's Region: exports to the source
// bucket itself go to the destination bucket, exports to another bucket to
// its counterpart from Options.Buckets; without one, that configuration is
// left out and reported.
var analyticsKind = &spec[[]analyticsConfig]{
	name:         "analytics",
	readActions:  []string{"s3:GetAnalyticsConfiguration"}, // also authorises the List call
	writeActions: []string{"s3:PutAnalyticsConfiguration"}, // also authorises the Delete call
	get:          analyticsList.get,
	put:          analyticsList.put,
	del:          analyticsList.del,
	xform: func(_ context.Context, e *Engine, m Mirror, v *[]analyticsConfig) (*[]analyticsConfig, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		var out []analyticsConfig
		var notes []Note
		for _, cfg := range *v {
			if from := cfg.exportBucket(); from != "" {
				to, ok := exportBucketARN(e, m, from)
				if !ok {
					notes = append(notes, Note{Severity: SeverityNotCopied, Message: fmt.Sprintf(
						"analytics configuration %q exports to %s, which is not in %s; map it to a bucket there (Options.Buckets) to copy it",
						cfg.Id, from, m.Dest.Region)})
					continue
				}
				cfg = cfg.withExportBucket(to)
				dest := cfg.StorageClassAnalysis.DataExport.Destination.S3BucketDestination
				var owner []Note
				dest.BucketAccountId, owner = exportOwner(e, m, dest.BucketAccountId, fmt.Sprintf("analytics configuration %q", cfg.Id))
				notes = append(notes, owner...)
			}
			out = append(out, cfg)
		}
		if len(out) == 0 {
			return nil, notes, nil
		}
		return &out, notes, nil
	},
}
