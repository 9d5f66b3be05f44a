package localcloud_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// The launcher's Region-scoped listing (docs/architecture.md, "The local
// cloud"): ListBuckets names each bucket's Region and pages as S3 does, and
// the Tagging API lists a bucket only in its own Region.
func TestBucketRegionsOverTheWire(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	clients := awsclient.New(cloud.AWSConfig())
	home := clients.S3(cloud.Region)
	want := map[string]string{ // name -> Region, in name order
		"lb-a-east": "us-east-1", "lb-b-west": "us-west-2", "lb-c-eu": "eu-west-1",
		"lb-d-eu": "eu-west-1", "lb-e-east": "us-east-1",
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range want {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		in := &s3.CreateBucketInput{Bucket: aws.String(name)}
		if r := want[name]; r != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(r)}
		}
		if _, err := clients.S3(want[name]).CreateBucket(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := clients.S3(want[name]).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name),
			Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("lb-test"), Value: aws.String("yes")}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// An untagged bucket in a fourth Region, outside the lb- prefix.
	if _, err := clients.S3("eu-central-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("other-central"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-central-1"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("ListBuckets names each bucket's Region, unpaginated", func(t *testing.T) {
		out, err := home.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if out.ContinuationToken != nil {
			t.Errorf("unpaginated answer has a continuation token %q", aws.ToString(out.ContinuationToken))
		}
		got := map[string]string{}
		var order []string
		for _, b := range out.Buckets {
			got[aws.ToString(b.Name)] = aws.ToString(b.BucketRegion)
			order = append(order, aws.ToString(b.Name))
		}
		for name, region := range want {
			if got[name] != region {
				t.Errorf("bucket %s: BucketRegion %q, want %q", name, got[name], region)
			}
		}
		if got["other-central"] != "eu-central-1" {
			t.Errorf("other-central: BucketRegion %q, want eu-central-1", got["other-central"])
		}
		if !slices.IsSorted(order) {
			t.Errorf("buckets not in name order: %v", order)
		}
	})

	t.Run("MaxBuckets pages with continuation tokens", func(t *testing.T) {
		var pages [][]string
		p := s3.NewListBucketsPaginator(home, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("lb-")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(page.Prefix) != "lb-" {
				t.Errorf("page Prefix = %q, want lb-", aws.ToString(page.Prefix))
			}
			var ns []string
			for _, b := range page.Buckets {
				ns = append(ns, aws.ToString(b.Name))
			}
			pages = append(pages, ns)
			if len(pages) > 5 {
				t.Fatal("more pages than buckets: the continuation token does not advance")
			}
		}
		wantPages := [][]string{names[0:2], names[2:4], names[4:5]}
		if !slices.EqualFunc(pages, wantPages, slices.Equal) {
			t.Errorf("pages = %v, want %v", pages, wantPages)
		}
	})

	t.Run("BucketRegion narrows the list", func(t *testing.T) {
		out, err := home.ListBuckets(ctx, &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-1"), MaxBuckets: aws.Int32(10000)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range out.Buckets {
			got = append(got, aws.ToString(b.Name))
		}
		if !slices.Equal(got, []string{"lb-c-eu", "lb-d-eu"}) {
			t.Errorf("eu-west-1 buckets = %v, want [lb-c-eu lb-d-eu]", got)
		}
	})

	t.Run("MaxBuckets outside 1..10000 is refused", func(t *testing.T) {
		_, err := home.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(10001)})
		if code := errorCode(err); code != "InvalidArgument" {
			t.Errorf("MaxBuckets 10001: code %q (%v), want InvalidArgument", code, err)
		}
	})

	t.Run("the Tagging API lists a bucket only in its own Region", func(t *testing.T) {
		for _, region := range []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} {
			client := rgt.NewFromConfig(cloud.AWSConfig(), func(o *rgt.Options) { o.Region = region })
			out, err := client.GetResources(ctx, &rgt.GetResourcesInput{
				TagFilters: []rgttypes.TagFilter{{Key: aws.String("lb-test")}}, ResourceTypeFilters: []string{"s3"}})
			if err != nil {
				t.Fatal(err)
			}
			var got, wantHere []string
			for _, m := range out.ResourceTagMappingList {
				got = append(got, aws.ToString(m.ResourceARN))
			}
			for _, n := range names {
				if want[n] == region {
					wantHere = append(wantHere, "arn:aws:s3:::"+n)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, wantHere) {
				t.Errorf("GetResources in %s = %v, want %v", region, got, wantHere)
			}
		}
	})
}
