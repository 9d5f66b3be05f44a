package bucketconfig

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// idList is one of the id-keyed configuration lists of a bucket
// (intelligent-tiering, analytics, metrics, inventory). S3 keeps up to 1,000
// of each per bucket but lists them 100 per page, and writes and deletes
// them one id at a time: there is no call that replaces the whole list.
//
// The kind's value is the whole list sorted by id. Its put takes the
// destination's list from the plan's snapshot (listing it again only
// outside a plan) to find the ids to delete and to skip configurations that
// are already equal, so a change to one of 1,000 configurations is one call,
// not 1,000; the calls of one put go out together. Put is safe to re-run
// after a partial failure (the framework retries OperationAborted by calling
// it again): deleting an id already gone is a no-op, putting one again
// overwrites it with the same value.
type idList[C any] struct {
	kind string // the catalog kind
	// page lists one page of a bucket's configurations as canonical values;
	// next is the continuation token when the list is truncated.
	page   func(ctx context.Context, c *s3.Client, bucket string, token *string) (items []C, truncated bool, next *string, err error)
	putOne func(ctx context.Context, c *s3.Client, bucket string, v C) error
	delOne func(ctx context.Context, c *s3.Client, bucket, id string) error
	id     func(C) string
}

// list reads every page: ACK's s3-controller reads only the first and so
// silently drops configurations past the 100th.
func (l *idList[C]) list(ctx context.Context, c *s3.Client, bucket string) ([]C, error) {
	var all []C
	var token *string
	seen := map[string]bool{}
	for {
		items, truncated, next, err := l.page(ctx, c, bucket, token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if !truncated {
			break
		}
		if aws.ToString(next) == "" {
			return nil, fmt.Errorf("listing configurations: page %d is truncated but has no continuation token", len(seen)+1)
		}
		if seen[*next] {
			return nil, fmt.Errorf("listing configurations: continuation token %q repeated", *next)
		}
		seen[*next] = true
		token = next
	}
	slices.SortFunc(all, func(a, b C) int { return strings.Compare(l.id(a), l.id(b)) })
	return all, nil
}

func (l *idList[C]) get(ctx context.Context, e *Engine, b Bucket) (*[]C, error) {
	all, err := l.list(ctx, e.s3(b), b.Name)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return &all, nil
}

// listCalls bounds the calls of one list kind's put in flight at once.
const listCalls = 10

// current is the destination's list: from the plan's snapshot, or listed.
func (l *idList[C]) current(ctx context.Context, e *Engine, c *s3.Client, b Bucket) ([]C, error) {
	if e.plan != nil && e.plan.Dest.Bucket == b && e.plan.Dest.read(l.kind) {
		if v, err := e.plan.Dest.value(l.kind); err == nil {
			if v == nil {
				return nil, nil
			}
			return *v.(*[]C), nil
		}
	}
	return l.list(ctx, c, b.Name)
}

func (l *idList[C]) put(ctx context.Context, e *Engine, b Bucket, v *[]C) error {
	c := e.s3(b)
	current, err := l.current(ctx, e, c, b)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(*v))
	for _, cfg := range *v {
		want[l.id(cfg)] = true
	}
	have := make(map[string][]byte, len(current))
	var deletes, puts []func() error
	for _, cfg := range current {
		id := l.id(cfg)
		if !want[id] {
			deletes = append(deletes, func() error { return l.delete(ctx, c, b.Name, id) })
			continue
		}
		if have[id], err = json.Marshal(cfg); err != nil {
			return fmt.Errorf("encoding configuration %q: %w", id, err)
		}
	}
	for _, cfg := range *v {
		id := l.id(cfg)
		raw, err := json.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encoding configuration %q: %w", id, err)
		}
		if bytes.Equal(raw, have[id]) {
			continue
		}
		puts = append(puts, func() error {
			if err := l.putOne(ctx, c, b.Name, cfg); err != nil {
				return fmt.Errorf("putting configuration %q: %w", id, err)
			}
			return nil
		})
	}
	// Deletes and puts go out together unless the list could pass S3's
	// limit in between; then the deletes make room first.
	if len(current)+len(puts) <= maxListConfigurations {
		return runAll(append(deletes, puts...))
	}
	if err := runAll(deletes); err != nil {
		return err
	}
	return runAll(puts)
}

// maxListConfigurations is S3's limit per bucket for each list kind.
const maxListConfigurations = 1000

// runAll runs calls listCalls at a time and returns the first error.
func runAll(calls []func() error) error {
	errs := make([]error, len(calls))
	sem := make(chan struct{}, listCalls)
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = call()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *idList[C]) del(ctx context.Context, e *Engine, b Bucket) error {
	c := e.s3(b)
	current, err := l.current(ctx, e, c, b)
	if err != nil {
		return err
	}
	calls := make([]func() error, len(current))
	for i, cfg := range current {
		calls[i] = func() error { return l.delete(ctx, c, b.Name, l.id(cfg)) }
	}
	return runAll(calls)
}

// delete treats an id that is already gone as deleted.
func (l *idList[C]) delete(ctx context.Context, c *s3.Client, bucket, id string) error {
	err := l.delOne(ctx, c, bucket, id)
	if err != nil && !isNotFound(err, codeNoSuchConfiguration) {
		return fmt.Errorf("deleting configuration %q: %w", id, err)
	}
	return nil
}

// exportBucketARN maps the bucket ARN an inventory or analytics export
// writes to into the destination Region, where S3 requires the export bucket
// to be: the source bucket itself becomes the destination bucket, any other
// bucket its counterpart from Options.Buckets (keyed by name or ARN, valued
// by name or ARN). ok is false when there is no counterpart.
func exportBucketARN(e *Engine, m Mirror, bucketARN string) (arn string, ok bool) {
	prefix, name := "arn:aws:s3:::", bucketARN
	if i := strings.Index(bucketARN, ":::"); strings.HasPrefix(bucketARN, "arn:") && i >= 0 {
		prefix, name = bucketARN[:i+3], bucketARN[i+3:]
	}
	if name == m.Source.Name {
		return prefix + m.Dest.Name, true
	}
	to, ok := e.opts.Buckets[name]
	if !ok {
		to, ok = e.opts.Buckets[bucketARN]
	}
	if !ok || to == "" {
		return "", false
	}
	if strings.HasPrefix(to, "arn:") {
		return to, true
	}
	return prefix + to, true
}

// exportOwner is the expected owner (an account id) of an export bucket
// once the export is mapped to the destination: in a mirror into another
// account the source's account becomes the destination's, as the export
// goes to the destination bucket itself or to a counterpart expected in
// the destination's account (as its log buckets are); S3 checks the owner
// before each delivery, so the source's account kept there would stop the
// exports. Any other owner is kept. what names the configuration for the
// note saying so.
func exportOwner(e *Engine, m Mirror, owner *string, what string) (*string, []Note) {
	src, dst := e.accountOf(m.Source), e.accountOf(m.Dest)
	if aws.ToString(owner) == "" || src == dst || aws.ToString(owner) != src {
		return owner, nil
	}
	return aws.String(dst), []Note{{Severity: SeverityInfo, Message: fmt.Sprintf(
		"%s: the export bucket's expected owner, the source's account %s, became the destination's account %s", what, src, dst)}}
}

// filterDoc is the canonical JSON form of the union filters of analytics and
// metrics configurations (types.AnalyticsFilter, types.MetricsFilter):
// encoding/json cannot decode an interface, so snapshots hold this instead.
// Exactly one field is set.
type filterDoc struct {
	Prefix         *string    `json:",omitempty"`
	Tag            *types.Tag `json:",omitempty"`
	AccessPointArn *string    `json:",omitempty"` // metrics only
	And            *filterAnd `json:",omitempty"`
}

type filterAnd struct {
	Prefix         *string     `json:",omitempty"`
	Tags           []types.Tag `json:",omitempty"`
	AccessPointArn *string     `json:",omitempty"` // metrics only
}

// sortedTags orders the tags of an And filter, whose order means nothing.
func sortedTags(tags []types.Tag) []types.Tag {
	if len(tags) == 0 {
		return nil
	}
	out := slices.Clone(tags)
	slices.SortFunc(out, func(a, b types.Tag) int {
		return cmp.Or(strings.Compare(aws.ToString(a.Key), aws.ToString(b.Key)), strings.Compare(aws.ToString(a.Value), aws.ToString(b.Value)))
	})
	return out
}

func analyticsFilterDoc(f types.AnalyticsFilter) (*filterDoc, error) {
	switch f := f.(type) {
	case nil:
		return nil, nil
	case *types.AnalyticsFilterMemberPrefix:
		return &filterDoc{Prefix: aws.String(f.Value)}, nil
	case *types.AnalyticsFilterMemberTag:
		return &filterDoc{Tag: &f.Value}, nil
	case *types.AnalyticsFilterMemberAnd:
		return &filterDoc{And: &filterAnd{Prefix: f.Value.Prefix, Tags: sortedTags(f.Value.Tags)}}, nil
	default:
		return nil, fmt.Errorf("reading analytics filter: unknown filter type %T", f)
	}
}

func (d *filterDoc) analytics() types.AnalyticsFilter {
	switch {
	case d == nil:
		return nil
	case d.And != nil:
		return &types.AnalyticsFilterMemberAnd{Value: types.AnalyticsAndOperator{Prefix: d.And.Prefix, Tags: d.And.Tags}}
	case d.Tag != nil:
		return &types.AnalyticsFilterMemberTag{Value: *d.Tag}
	case d.Prefix != nil:
		return &types.AnalyticsFilterMemberPrefix{Value: *d.Prefix}
	}
	return nil
}

func metricsFilterDoc(f types.MetricsFilter) (*filterDoc, error) {
	switch f := f.(type) {
	case nil:
		return nil, nil
	case *types.MetricsFilterMemberPrefix:
		return &filterDoc{Prefix: aws.String(f.Value)}, nil
	case *types.MetricsFilterMemberTag:
		return &filterDoc{Tag: &f.Value}, nil
	case *types.MetricsFilterMemberAccessPointArn:
		return &filterDoc{AccessPointArn: aws.String(f.Value)}, nil
	case *types.MetricsFilterMemberAnd:
		return &filterDoc{And: &filterAnd{Prefix: f.Value.Prefix, Tags: sortedTags(f.Value.Tags), AccessPointArn: f.Value.AccessPointArn}}, nil
	default:
		return nil, fmt.Errorf("reading metrics filter: unknown filter type %T", f)
	}
}

func (d *filterDoc) metrics() types.MetricsFilter {
	switch {
	case d == nil:
		return nil
	case d.And != nil:
		return &types.MetricsFilterMemberAnd{Value: types.MetricsAndOperator{Prefix: d.And.Prefix, Tags: d.And.Tags, AccessPointArn: d.And.AccessPointArn}}
	case d.Tag != nil:
		return &types.MetricsFilterMemberTag{Value: *d.Tag}
	case d.AccessPointArn != nil:
		return &types.MetricsFilterMemberAccessPointArn{Value: *d.AccessPointArn}
	case d.Prefix != nil:
		return &types.MetricsFilterMemberPrefix{Value: *d.Prefix}
	}
	return nil
}

// accessPointARN is the access point a metrics filter names, if any.
func (d *filterDoc) accessPointARN() string {
	switch {
	case d == nil:
		return ""
	case d.And != nil:
		return aws.ToString(d.And.AccessPointArn)
	}
	return aws.ToString(d.AccessPointArn)
}
