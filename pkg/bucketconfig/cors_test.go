package bucketconfig

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCORS(t *testing.T) {
	f := newFixture(t)
	rules := []types.CORSRule{
		{AllowedMethods: []string{"GET", "HEAD"}, AllowedOrigins: []string{"https://example.com"}, AllowedHeaders: []string{"*"}, MaxAgeSeconds: aws.Int32(3000), ID: aws.String("web")},
		{AllowedMethods: []string{"PUT"}, AllowedOrigins: []string{"https://upload.example.com"}, ExposeHeaders: []string{"ETag"}},
	}
	f.roundTrip("cors",
		func() {
			_, err := f.src().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &f.m.Source.Name, CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}})
			f.must(err)
		},
		func() {
			_, err := f.src().DeleteBucketCors(f.ctx, &s3.DeleteBucketCorsInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetBucketCors(f.ctx, &s3.GetBucketCorsInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			if len(out.CORSRules) != 2 || !reflect.DeepEqual(out.CORSRules[0].AllowedMethods, []string{"GET", "HEAD"}) ||
				aws.ToString(out.CORSRules[0].ID) != "web" || aws.ToInt32(out.CORSRules[0].MaxAgeSeconds) != 3000 ||
				!reflect.DeepEqual(out.CORSRules[1].ExposeHeaders, []string{"ETag"}) {
				t.Errorf("destination CORS = %+v", out.CORSRules)
			}
		})
}
