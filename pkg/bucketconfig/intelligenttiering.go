package bucketconfig

import (
	"cmp"
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var intelligentTieringList = &idList[types.IntelligentTieringConfiguration]{
	kind: "intelligent-tiering",
	page: func(ctx context.Context, c *s3.Client, bucket string, token *string) ([]types.IntelligentTieringConfiguration, bool, *string, error) {
		out, err := c.ListBucketIntelligentTieringConfigurations(ctx, &s3.ListBucketIntelligentTieringConfigurationsInput{Bucket: &bucket, ContinuationToken: token})
		if err != nil {
			return nil, false, nil, err
		}
		items := out.IntelligentTieringConfigurationList
		for i := range items {
			items[i] = canonicalIntelligentTiering(items[i])
		}
		return items, aws.ToBool(out.IsTruncated), out.NextContinuationToken, nil
	},
	putOne: func(ctx context.Context, c *s3.Client, bucket string, v types.IntelligentTieringConfiguration) error {
		_, err := c.PutBucketIntelligentTieringConfiguration(ctx, &s3.PutBucketIntelligentTieringConfigurationInput{Bucket: &bucket, Id: v.Id,
			IntelligentTieringConfiguration: &v})
		return err
	},
	delOne: func(ctx context.Context, c *s3.Client, bucket, id string) error {
		_, err := c.DeleteBucketIntelligentTieringConfiguration(ctx, &s3.DeleteBucketIntelligentTieringConfigurationInput{Bucket: &bucket, Id: &id})
		return err
	},
	id: func(v types.IntelligentTieringConfiguration) string { return aws.ToString(v.Id) },
}

// canonicalIntelligentTiering orders what S3 treats as a set: the tierings
// (one per access tier) and the tags of an And filter.
func canonicalIntelligentTiering(v types.IntelligentTieringConfiguration) types.IntelligentTieringConfiguration {
	v.Tierings = slices.Clone(v.Tierings)
	slices.SortFunc(v.Tierings, func(a, b types.Tiering) int {
		return cmp.Or(cmp.Compare(a.AccessTier, b.AccessTier), cmp.Compare(aws.ToInt32(a.Days), aws.ToInt32(b.Days)))
	})
	if v.Filter != nil && v.Filter.And != nil {
		and := *v.Filter.And
		and.Tags = sortedTags(and.Tags)
		filter := *v.Filter
		filter.And = &and
		v.Filter = &filter
	}
	return v
}

// intelligentTieringKind copies the S3 Intelligent-Tiering archive
// configurations as they are: they name no other resource.
var intelligentTieringKind = &spec[[]types.IntelligentTieringConfiguration]{
	name:         "intelligent-tiering",
	readActions:  []string{"s3:GetIntelligentTieringConfiguration"}, // also authorises the List call
	writeActions: []string{"s3:PutIntelligentTieringConfiguration"}, // also authorises the Delete call
	get:          intelligentTieringList.get,
	put:          intelligentTieringList.put,
	del:          intelligentTieringList.del,
}
