package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestWebsite(t *testing.T) {
	f := newFixture(t)
	site := &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
		ErrorDocument: &types.ErrorDocument{Key: aws.String("errors/404.html")},
		RoutingRules: []types.RoutingRule{
			{Condition: &types.Condition{KeyPrefixEquals: aws.String("docs/")},
				Redirect: &types.Redirect{ReplaceKeyPrefixWith: aws.String("documents/")}},
			{Condition: &types.Condition{HttpErrorCodeReturnedEquals: aws.String("404")},
				Redirect: &types.Redirect{HostName: aws.String("example.com"), Protocol: types.ProtocolHttps,
					HttpRedirectCode: aws.String("302"), ReplaceKeyWith: aws.String("missing.html")}},
		},
	}
	f.roundTrip("website",
		func() {
			_, err := f.src().PutBucketWebsite(f.ctx, &s3.PutBucketWebsiteInput{Bucket: &f.m.Source.Name, WebsiteConfiguration: site})
			f.must(err)
		},
		func() {
			_, err := f.src().DeleteBucketWebsite(f.ctx, &s3.DeleteBucketWebsiteInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetBucketWebsite(f.ctx, &s3.GetBucketWebsiteInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			if aws.ToString(out.IndexDocument.Suffix) != "index.html" || aws.ToString(out.ErrorDocument.Key) != "errors/404.html" ||
				out.RedirectAllRequestsTo != nil || len(out.RoutingRules) != 2 {
				t.Fatalf("destination website = %+v", out)
			}
			first, second := out.RoutingRules[0], out.RoutingRules[1]
			if aws.ToString(first.Condition.KeyPrefixEquals) != "docs/" || aws.ToString(first.Redirect.ReplaceKeyPrefixWith) != "documents/" {
				t.Errorf("first routing rule = %+v %+v", first.Condition, first.Redirect)
			}
			if aws.ToString(second.Condition.HttpErrorCodeReturnedEquals) != "404" || aws.ToString(second.Redirect.HostName) != "example.com" ||
				second.Redirect.Protocol != types.ProtocolHttps || aws.ToString(second.Redirect.HttpRedirectCode) != "302" ||
				aws.ToString(second.Redirect.ReplaceKeyWith) != "missing.html" {
				t.Errorf("second routing rule = %+v %+v", second.Condition, second.Redirect)
			}
		})
}

func TestWebsiteRedirectAll(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("website",
		func() {
			_, err := f.src().PutBucketWebsite(f.ctx, &s3.PutBucketWebsiteInput{Bucket: &f.m.Source.Name, WebsiteConfiguration: &types.WebsiteConfiguration{
				RedirectAllRequestsTo: &types.RedirectAllRequestsTo{HostName: aws.String("www.example.com"), Protocol: types.ProtocolHttps}}})
			f.must(err)
		},
		func() {
			_, err := f.src().DeleteBucketWebsite(f.ctx, &s3.DeleteBucketWebsiteInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetBucketWebsite(f.ctx, &s3.GetBucketWebsiteInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			if r := out.RedirectAllRequestsTo; r == nil || aws.ToString(r.HostName) != "www.example.com" || r.Protocol != types.ProtocolHttps ||
				out.IndexDocument != nil || len(out.RoutingRules) != 0 {
				t.Errorf("destination website = %+v redirect %+v", out, out.RedirectAllRequestsTo)
			}
		})
}
