package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// cleanup deletes the buckets bucketmirror made — those carrying the source
// tag — and nothing else, emptying them (every version) first.
func (a *App) cleanup(ctx context.Context, args []string) error {
	fs := a.flags("cleanup")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if _, err := a.parse(fs, args, 0); err != nil {
		return err
	}
	m, cfg, err := a.mirrorer(ctx)
	if err != nil {
		return err
	}
	owned, err := ownedBuckets(ctx, m, cfg.Region)
	if err != nil {
		return err
	}
	if len(owned) == 0 {
		fmt.Fprintln(a.Stdout, "no bucket carries the "+m.SourceTag()+" tag: nothing to delete")
		return nil
	}
	fmt.Fprintf(a.Stdout, "buckets made by bucketmirror (tagged %s):\n", m.SourceTag())
	for _, b := range owned {
		fmt.Fprintf(a.Stdout, "  %s (%s)\n", b.Name, b.Region)
	}
	if !*yes && !a.confirm(fmt.Sprintf("Delete these %d buckets and every object in them?", len(owned))) {
		fmt.Fprintln(a.Stdout, "nothing deleted")
		return nil
	}
	failed := 0
	for _, b := range owned {
		if err := deleteBucket(ctx, m.Clients.S3(b.Region), b.Name); err != nil {
			failed++
			fmt.Fprintf(a.Stderr, "deleting bucket %s (%s): %v\n", b.Name, b.Region, err)
			continue
		}
		fmt.Fprintf(a.Stdout, "deleted %s\n", b.Name)
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

func ownedBuckets(ctx context.Context, m *mirror.Mirrorer, home string) ([]bucketconfig.Bucket, error) {
	var owned []bucketconfig.Bucket
	p := s3.NewListBucketsPaginator(m.Clients.S3(home), &s3.ListBucketsInput{MaxBuckets: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing buckets: %w", err)
		}
		for _, b := range page.Buckets {
			region := aws.ToString(b.BucketRegion)
			if region == "" {
				region = home
			}
			tags, err := m.Engine.Tags(ctx, bucketconfig.Bucket{Name: aws.ToString(b.Name), Region: region})
			if err != nil {
				return nil, fmt.Errorf("reading tags of bucket %s: %w", aws.ToString(b.Name), err)
			}
			for _, t := range tags {
				if aws.ToString(t.Key) == m.SourceTag() && strings.HasPrefix(aws.ToString(t.Value), "arn:aws:s3:::") {
					owned = append(owned, bucketconfig.Bucket{Name: aws.ToString(b.Name), Region: region})
				}
			}
		}
	}
	return owned, nil
}

// deleteBucket removes every object version and delete marker, then the
// bucket. Objects under Object Lock retention make it fail, as they should.
func deleteBucket(ctx context.Context, s3c *s3.Client, bucket string) error {
	p := s3.NewListObjectVersionsPaginator(s3c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing objects: %w", err)
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, d := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: d.Key, VersionId: d.VersionId})
		}
		if len(ids) == 0 {
			continue
		}
		out, err := s3c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return fmt.Errorf("deleting objects: %w", err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("deleting object %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return errors.Join(fmt.Errorf("deleting bucket"), err)
	}
	return nil
}
