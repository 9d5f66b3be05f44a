package bucketconfig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
)

// maxBucketTags is S3's limit of user tags per bucket.
const maxBucketTags = 50

// tagsKind copies bucket tags, sorted by key. Control tags (under
// Options.TagPrefix) are never copied and aws: tags cannot be written; the
// destination carries <prefix>source = the source's ARN besides the copied
// tags, and bucketmirror never removes it.
//
// "Absent" is therefore a tag set of control tags only: the source reads as
// absent when it has nothing to copy (often it has only its
// <prefix>destination-regions tag), and del leaves the destination with its
// <prefix>source tag alone, which reads as absent again. Tagging a fresh
// destination with <prefix>source is the create step's job (Engine.SourceTag).
//
// With ABAC enabled on the destination, S3 refuses PutBucketTagging and
// DeleteBucketTagging: tags are then written with S3 Control TagResource and
// UntagResource.
var tagsKind = &spec[[]types.Tag]{
	name:        "tags",
	readActions: []string{"s3:GetBucketTagging"},
	// DeleteBucketTagging is authorised by s3:PutBucketTagging.
	writeActions: []string{"s3:GetBucketTagging", "s3:PutBucketTagging", "s3:GetBucketABAC",
		"s3:ListTagsForResource", "s3:TagResource", "s3:UntagResource"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*[]types.Tag, error) {
		tags, err := getTags(ctx, e, b)
		if err != nil {
			return nil, err
		}
		e.learn(func(f *facts) { f.tags, f.tagsRead = slices.Clone(tags), true })
		if !slices.ContainsFunc(tags, func(t types.Tag) bool { return !e.isControlTag(aws.ToString(t.Key)) }) {
			return nil, nil
		}
		// A source's own control tags (destination-regions, ...) are not
		// configuration: leaving them out of the value keeps its snapshot
		// hash, so editing the Regions list is not drift for every Region.
		// A destination's source tag stays: it is part of what is written.
		source := aws.ToString(e.SourceTag(Bucket{}).Key)
		tags = slices.DeleteFunc(tags, func(t types.Tag) bool {
			key := aws.ToString(t.Key)
			return e.isControlTag(key) && key != source
		})
		return &tags, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *[]types.Tag) error {
		return writeTags(ctx, e, b, *v)
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		var tags []types.Tag
		if f := e.destFacts(); f != nil && f.tagsRead {
			tags = f.tags
		} else {
			var err error
			if tags, err = getTags(ctx, e, b); err != nil {
				return err
			}
		}
		source := aws.ToString(e.SourceTag(Bucket{}).Key)
		return writeTags(ctx, e, b, slices.DeleteFunc(tags, func(t types.Tag) bool { return aws.ToString(t.Key) != source }))
	},
	xform: func(_ context.Context, e *Engine, m Mirror, v *[]types.Tag) (*[]types.Tag, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		var out []types.Tag
		var system []string
		for _, t := range *v {
			key := aws.ToString(t.Key)
			switch {
			case e.isControlTag(key):
			case strings.HasPrefix(key, "aws:"):
				system = append(system, key)
			default:
				out = append(out, t)
			}
		}
		var notes []Note
		if len(system) > 0 {
			notes = append(notes, Note{Severity: SeverityNotCopied,
				Message: fmt.Sprintf("tags %s are set by AWS (aws: prefix) and cannot be written to the destination", strings.Join(system, ", "))})
		}
		if len(out) == 0 {
			return nil, notes, nil
		}
		if len(out)+1 > maxBucketTags {
			return nil, notes, fmt.Errorf("copying %d tags: with %s the destination would need %d, over S3's limit of %d tags per bucket",
				len(out), aws.ToString(e.SourceTag(m.Source).Key), len(out)+1, maxBucketTags)
		}
		out = append(out, e.SourceTag(m.Source))
		sortTags(out)
		return &out, notes, nil
	},
}

// SourceTag is the tag every destination carries: <prefix>source = the
// source bucket's ARN.
func (e *Engine) SourceTag(source Bucket) types.Tag {
	return types.Tag{Key: aws.String(e.opts.TagPrefix + "source"), Value: aws.String(source.ARN())}
}

func (e *Engine) isControlTag(key string) bool { return strings.HasPrefix(key, e.opts.TagPrefix) }

// Tags reads b's tags sorted by key; a bucket without tags has none (nil).
func (e *Engine) Tags(ctx context.Context, b Bucket) ([]types.Tag, error) { return getTags(ctx, e, b) }

func getTags(ctx context.Context, e *Engine, b Bucket) ([]types.Tag, error) {
	out, err := e.s3(b).GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b.Name})
	if isNotFound(err, codeNoSuchTagSet) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tags := slices.Clone(out.TagSet)
	sortTags(tags)
	return tags, nil
}

func sortTags(tags []types.Tag) {
	slices.SortFunc(tags, func(a, b types.Tag) int { return strings.Compare(aws.ToString(a.Key), aws.ToString(b.Key)) })
}

// writeTags makes tags the bucket's whole tag set.
// SetTag sets one tag on b and keeps the others. Like every tag write it
// goes through writeTags, which uses S3 Control where ABAC is on (S3 then
// refuses PutBucketTagging with AccessDenied).
func (e *Engine) SetTag(ctx context.Context, b Bucket, tag types.Tag) error {
	tags, err := getTags(ctx, e, b)
	if err != nil {
		return err
	}
	kept := make([]types.Tag, 0, len(tags)+1)
	for _, t := range tags {
		if aws.ToString(t.Key) == aws.ToString(tag.Key) {
			if aws.ToString(t.Value) == aws.ToString(tag.Value) {
				return nil
			}
			continue
		}
		kept = append(kept, t)
	}
	return writeTags(ctx, e, b, append(kept, tag))
}

// writeTags is the one path every tag write of bucketmirror takes.
func writeTags(ctx context.Context, e *Engine, b Bucket, tags []types.Tag) error {
	abac, err := e.destABAC(ctx, b)
	if err != nil {
		return fmt.Errorf("reading ABAC status: %w", err)
	}
	if abac {
		return writeTagsS3Control(ctx, e, b, tags)
	}
	client := e.s3(b)
	if len(tags) == 0 {
		_, err := client.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: &b.Name})
		return err
	}
	_, err = client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &b.Name, Tagging: &types.Tagging{TagSet: tags}})
	return err
}

// destABAC says whether ABAC is on for b: from the plan's destination
// snapshot (the abac kind read it, and its write waits for the tags'), or
// read when there is no plan or that read failed.
func (e *Engine) destABAC(ctx context.Context, b Bucket) (bool, error) {
	if e.plan != nil && e.plan.Dest.Bucket == b && e.plan.Dest.read(abacKind.name) {
		if v, err := e.plan.Dest.value(abacKind.name); err == nil {
			return v != nil, nil
		}
	}
	return abacEnabled(ctx, e, b)
}

// writeTagsS3Control sets the tag set of a bucket with ABAC enabled: S3
// Control TagResource adds and overwrites, UntagResource removes. The
// resource is the bucket's ARN (arn:aws:s3:::NAME).
func writeTagsS3Control(ctx context.Context, e *Engine, b Bucket, tags []types.Tag) error {
	account := e.accountOf(b)
	if account == "" {
		return errors.New("writing tags of a bucket with ABAC enabled needs the account id (Options.AccountID) for S3 Control")
	}
	client := e.clientsFor(b).S3Control(b.Region)
	arn := b.ARN()
	out, err := client.ListTagsForResource(ctx, &s3control.ListTagsForResourceInput{AccountId: &account, ResourceArn: &arn})
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	add := make([]controltypes.Tag, len(tags))
	for i, t := range tags {
		keep[aws.ToString(t.Key)] = true
		add[i] = controltypes.Tag{Key: t.Key, Value: t.Value}
	}
	var remove []string
	for _, t := range out.Tags {
		// aws: tags are the system's; they cannot be removed.
		if key := aws.ToString(t.Key); !keep[key] && !strings.HasPrefix(key, "aws:") {
			remove = append(remove, key)
		}
	}
	slices.Sort(remove)
	untag := func() error {
		if len(remove) == 0 {
			return nil
		}
		_, err := client.UntagResource(ctx, &s3control.UntagResourceInput{AccountId: &account, ResourceArn: &arn, TagKeys: remove})
		return err
	}
	tag := func() error {
		if len(add) == 0 {
			return nil
		}
		_, err := client.TagResource(ctx, &s3control.TagResourceInput{AccountId: &account, ResourceArn: &arn, Tags: add})
		return err
	}
	// Add before removing, so a tag-based policy never sees the bucket with
	// neither the old nor the new tags; unless the union would break the
	// tag limit for a moment.
	steps := []func() error{tag, untag}
	if len(out.Tags)+len(add)-len(keepExisting(out.Tags, keep)) > maxBucketTags {
		steps = []func() error{untag, tag}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// keepExisting returns the current tags whose keys are also written.
func keepExisting(current []controltypes.Tag, keep map[string]bool) []controltypes.Tag {
	var out []controltypes.Tag
	for _, t := range current {
		if keep[aws.ToString(t.Key)] {
			out = append(out, t)
		}
	}
	return out
}

// DestinationTags are the tags a new destination of source is created with:
// the source's tags as the tags kind copies them, and the source tag. When
// they cannot all be copied (the limit of 50), only the source tag: the
// configure step then reports why.
func (e *Engine) DestinationTags(source Bucket, sourceTags []types.Tag) []types.Tag {
	tags := slices.Clone(sourceTags)
	if out, _, err := tagsKind.xform(context.Background(), e, Mirror{Source: source}, &tags); err == nil && out != nil {
		return *out
	}
	return []types.Tag{e.SourceTag(source)}
}
