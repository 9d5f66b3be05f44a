package bucketconfig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// metricsConfig is a CloudWatch request-metrics configuration in canonical
// form (its filter is a union the SDK cannot marshal).
type metricsConfig struct {
	Id     string
	Filter *filterDoc `json:",omitempty"`
}

var metricsList = &idList[metricsConfig]{
	kind: "metrics",
	page: func(ctx context.Context, c *s3.Client, bucket string, token *string) ([]metricsConfig, bool, *string, error) {
		out, err := c.ListBucketMetricsConfigurations(ctx, &s3.ListBucketMetricsConfigurationsInput{Bucket: &bucket, ContinuationToken: token})
		if err != nil {
			return nil, false, nil, err
		}
		items := make([]metricsConfig, 0, len(out.MetricsConfigurationList))
		for _, cfg := range out.MetricsConfigurationList {
			filter, err := metricsFilterDoc(cfg.Filter)
			if err != nil {
				return nil, false, nil, fmt.Errorf("metrics configuration %q: %w", aws.ToString(cfg.Id), err)
			}
			items = append(items, metricsConfig{Id: aws.ToString(cfg.Id), Filter: filter})
		}
		return items, aws.ToBool(out.IsTruncated), out.NextContinuationToken, nil
	},
	putOne: func(ctx context.Context, c *s3.Client, bucket string, v metricsConfig) error {
		_, err := c.PutBucketMetricsConfiguration(ctx, &s3.PutBucketMetricsConfigurationInput{Bucket: &bucket, Id: &v.Id,
			MetricsConfiguration: &types.MetricsConfiguration{Id: &v.Id, Filter: v.Filter.metrics()}})
		return err
	},
	delOne: func(ctx context.Context, c *s3.Client, bucket, id string) error {
		_, err := c.DeleteBucketMetricsConfiguration(ctx, &s3.DeleteBucketMetricsConfigurationInput{Bucket: &bucket, Id: &id})
		return err
	},
	id: func(v metricsConfig) string { return v.Id },
}

// metricsKind copies the CloudWatch request-metrics configurations. A filter
// on an access point cannot be copied: access points belong to one bucket
// in one Region, so that configuration is left out and reported.
var metricsKind = &spec[[]metricsConfig]{
	name:         "metrics",
	readActions:  []string{"s3:GetMetricsConfiguration"}, // also authorises ListBucketMetricsConfigurations
	writeActions: []string{"s3:PutMetricsConfiguration"}, // also authorises DeleteBucketMetricsConfiguration
	get:          metricsList.get,
	put:          metricsList.put,
	del:          metricsList.del,
	xform: func(_ context.Context, _ *Engine, m Mirror, v *[]metricsConfig) (*[]metricsConfig, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		var out []metricsConfig
		var notes []Note
		for _, cfg := range *v {
			if ap := cfg.Filter.accessPointARN(); ap != "" {
				notes = append(notes, Note{Severity: SeverityNotCopied, Message: fmt.Sprintf(
					"metrics configuration %q filters on access point %s, which belongs to %s; create an access point for %s and add the configuration by hand",
					cfg.Id, ap, m.Source.Name, m.Dest)})
				continue
			}
			out = append(out, cfg)
		}
		if len(out) == 0 {
			return nil, notes, nil
		}
		return &out, notes, nil
	},
}
