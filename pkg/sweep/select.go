package sweep

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
)

// selectAll lists the tagged buckets Region by Region and joins them with
// the inventory. A Region whose listing fails is reported and the others go
// on (mirrors of its sources are still checked, bucket by bucket, through
// their inventory records); without the inventory nothing can be decided.
func (r *run) selectAll(ctx context.Context) ([]*source, []error, error) {
	// The inventory first: the sources whose records do not say their
	// Region are the ones the ListBuckets listing below (when it runs)
	// keeps the Region of, so none of them costs a GetBucketLocation.
	records, err := r.store.Mirrors(ctx)
	if err != nil {
		return nil, nil, err
	}
	r.regionWanted = map[string]bool{}
	for _, rec := range records {
		if _, known := r.regionWanted[rec.Source]; !known || rec.SourceRegion != "" {
			r.regionWanted[rec.Source] = rec.SourceRegion == ""
		}
	}
	found, errs := r.tagged(ctx)
	for i := range records {
		rec := &records[i]
		src := found[rec.Source]
		if src == nil {
			// Listed in the inventory, not by the Tagging API: untagged,
			// deleted, outside Config.Regions, or tagged so recently that
			// the eventually consistent Tagging API does not show it yet.
			// Only S3 itself can tell, so it is looked up — unless all its
			// mirrors are detached already, which costs no calls at all.
			src = &source{Name: rec.Source, Account: rec.SourceAccount, lookup: true, Region: r.listedRegion[rec.Source]}
			found[rec.Source] = src
		}
		if src.Records == nil {
			src.Records = map[string]*inventory.Mirror{}
		}
		src.Records[rec.Place()] = rec
	}
	var work []*source
	for _, src := range found {
		if src.lookup && !slices.ContainsFunc(slices.Collect(maps.Values(src.Records)), func(m *inventory.Mirror) bool { return m.Status != inventory.StatusDetached }) {
			continue
		}
		if src.Records == nil {
			src.Records = map[string]*inventory.Mirror{}
		}
		work = append(work, src)
	}
	slices.SortFunc(work, func(a, b *source) int { return cmp.Compare(a.Name, b.Name) })
	return work, errs, nil
}

// tagged lists the tagged buckets of every account the sweep looks in
// (Config.Accounts, Organization). An account it cannot act in is
// reported (AccountError) and the others go on; so is a failed
// Organizations listing, after which the deployment's own account is still
// swept.
func (r *run) tagged(ctx context.Context) (map[string]*source, []error) {
	found := map[string]*source{}
	accounts, err := r.accountsToSweep(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	r.mu.Lock()
	r.accountCount = len(accounts)
	r.mu.Unlock()
	for _, account := range accounts {
		// An account that cannot be reached is reported with the run's
		// AccountErrors, not here.
		v, unreachable := r.reach(ctx, account)
		if unreachable != nil {
			continue
		}
		errs = append(errs, r.taggedIn(ctx, v, found)...)
	}
	return found, errs
}

// taggedIn pages through the Tagging API in every source Region of one
// account for S3 buckets carrying <prefix>destination-regions: only tagged
// resources are listed, so an account of 10,000 buckets costs a few calls,
// not 10,000 GetBucketTagging calls. A Region that refuses the call (not
// enabled for the account, or denied) is reported and the others go on.
func (r *run) taggedIn(ctx context.Context, v *accountView, found map[string]*source) []error {
	regions, errs := r.sourceRegions(ctx, v)
	if v.role != "" && len(errs) > 0 && regions == nil {
		// The member role cannot even list the account's buckets.
		r.accountFailed(v.id, v.role, errs[0])
		return nil
	}
	inAccount := ""
	if v.role != "" {
		inAccount = " of account " + v.id
	}
	mine := map[string]*source{}
	for _, region := range regions {
		p := rgt.NewGetResourcesPaginator(v.taggingClient(region), &rgt.GetResourcesInput{
			TagFilters:          []rgttypes.TagFilter{{Key: aws.String(r.cfg.regionsTag())}},
			ResourceTypeFilters: []string{"s3"},
			ResourcesPerPage:    aws.Int32(100),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				errs = append(errs, fmt.Errorf("listing buckets%s tagged %s in %s: %w", inAccount, r.cfg.regionsTag(), region, err))
				break
			}
			for _, res := range page.ResourceTagMappingList {
				name, ok := bucketOfARN(aws.ToString(res.ResourceARN))
				if !ok {
					continue
				}
				src := mine[name]
				if src == nil {
					src = &source{Name: name, Account: v.id, Tags: map[string]string{}}
					for _, t := range res.Tags {
						src.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
					}
					mine[name] = src
				}
				src.seenIn = append(src.seenIn, region)
			}
		}
	}
	for name, src := range mine {
		// The Tagging API lists a bucket in its own Region only; should one
		// be listed in several, S3 itself is asked.
		if len(src.seenIn) == 1 {
			src.Region = src.seenIn[0]
		}
		// Bucket names are global, so a name listed by two accounts is one
		// bucket seen twice (an account in BUCKETMIRROR_ACCOUNTS twice under
		// another guise): the first account keeps it.
		if found[name] == nil {
			found[name] = src
		}
	}
	return errs
}

// listBucketsPage is the most ListBuckets returns in one page (MaxBuckets
// 1..10,000, https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html).
const listBucketsPage = 10000

// sourceRegions are the Regions to look for sources in: Config.Regions
// when set, else every Region holding a bucket of the account. ListBuckets
// names each bucket's Region (BucketRegion), so one paginated call — a page
// per 10,000 buckets — replaces asking every Region there is.
func (r *run) sourceRegions(ctx context.Context, v *accountView) ([]string, []error) {
	if len(r.cfg.Regions) > 0 {
		return r.cfg.Regions, nil
	}
	seen := map[string]bool{}
	var unknown []string
	p := s3.NewListBucketsPaginator(v.clients.S3(r.home), &s3.ListBucketsInput{MaxBuckets: aws.Int32(listBucketsPage)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, []error{fmt.Errorf("listing the buckets of account %s to find the Regions that hold them (or set BUCKETMIRROR_REGIONS): %w", v.id, err)}
		}
		for _, b := range page.Buckets {
			// A Region newer than this build's list is searched all the
			// same: the Tagging API answers there too.
			if region := aws.ToString(b.BucketRegion); region != "" {
				seen[region] = true
				if name := aws.ToString(b.Name); r.regionWanted[name] {
					if r.listedRegion == nil {
						r.listedRegion = map[string]string{}
					}
					r.listedRegion[name] = region
				}
			} else {
				unknown = append(unknown, aws.ToString(b.Name))
			}
		}
	}
	var errs []error
	if len(unknown) > 0 {
		errs = append(errs, fmt.Errorf("ListBuckets reported no Region for %d buckets (first %q): they are not searched for tags; set BUCKETMIRROR_REGIONS to name the Regions to search", len(unknown), unknown[0]))
	}
	return slices.Sorted(maps.Keys(seen)), errs
}

// bucketOfARN returns NAME of arn:PARTITION:s3:::NAME (not objects, not
// access points or other S3 resources).
func bucketOfARN(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "s3" || parts[3] != "" || parts[4] != "" || parts[5] == "" || strings.ContainsAny(parts[5], "/:") {
		return "", false
	}
	return parts[5], true
}

// locate finds the bucket's Region and, for a looked-up bucket, its tags
// straight from S3 (GetBucketTagging is consistent, the Tagging API is not).
// The Region is asked of S3 (GetBucketLocation) only when neither the
// listing (Tagging API, ListBuckets) nor the bucket's mirror records name
// it; a record's Region is a hint, asked again should S3 redirect.
func (r *run) locate(ctx context.Context, v *accountView, src *source) error {
	if src.Region == "" {
		for _, place := range slices.Sorted(maps.Keys(src.Records)) {
			if region := src.Records[place].SourceRegion; region != "" {
				src.Region, src.regionHinted = region, true
				break
			}
		}
	}
	return r.locateIn(ctx, v, src)
}

// locateIn is locate once the listing and records have had their say.
func (r *run) locateIn(ctx context.Context, v *accountView, src *source) error {
	if src.Region == "" {
		out, err := v.clients.S3(r.home).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(src.Name)})
		if bucketconfig.IsNoSuchBucket(err) {
			src.gone = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("finding the Region of bucket %q: %w", src.Name, err)
		}
		src.Region = regionOfLocation(string(out.LocationConstraint))
	}
	if !src.lookup {
		return nil
	}
	tags, err := v.engine.Tags(ctx, bucketconfig.Bucket{Name: src.Name, Region: src.Region})
	if src.regionHinted && bucketconfig.Classify(err) == bucketconfig.ClassRedirect {
		// The event's Region was not the bucket's (S3 Control calls are
		// recorded where the control endpoint was called): ask S3.
		src.Region, src.regionHinted = "", false
		return r.locateIn(ctx, v, src)
	}
	switch {
	case bucketconfig.IsNoSuchBucket(err):
		src.gone = true
		return nil
	case err != nil:
		return fmt.Errorf("reading tags of bucket %q in %s: %w", src.Name, src.Region, err)
	}
	src.Tags = map[string]string{}
	for _, t := range tags {
		src.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return nil
}

// regionOfLocation maps GetBucketLocation's answer to a Region code: empty
// is us-east-1, and the legacy "EU" is eu-west-1.
func regionOfLocation(loc string) string {
	switch loc {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	}
	return loc
}

// loadRecords reads a named bucket's mirror records, whatever their
// destination Region (so a Region dropped from the tag is still seen and
// detached): one consistent Query instead of scanning the inventory.
func (r *run) loadRecords(ctx context.Context, src *source) error {
	recs, err := r.store.MirrorsOf(ctx, src.Name)
	if err != nil {
		return err
	}
	src.Records = map[string]*inventory.Mirror{}
	for i := range recs {
		src.Records[recs[i].Place()] = &recs[i]
	}
	return nil
}
