package bucketconfig

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// encryptionKind copies default encryption (SSE-S3, SSE-KMS, DSSE-KMS, the
// S3 Bucket Key, blocked encryption types). KMS keys are Regional, so a
// customer managed key is replaced by the key of the same alias in the
// destination Region, or by the one Options.KMSKeys names; the AWS managed
// key (no key id, or alias/aws/s3) exists in every Region and is kept.
//
// Since 2023 real S3 always has default encryption (SSE-S3 at least) and
// DeleteBucketEncryption resets it to SSE-S3, so a source never reads as
// absent there and del only runs against stores without that default.
var encryptionKind = &spec[types.ServerSideEncryptionConfiguration]{
	name:        "encryption",
	readActions: []string{"s3:GetEncryptionConfiguration"},
	// DeleteBucketEncryption is authorised by s3:PutEncryptionConfiguration.
	// The KMS actions belong to the transform, which only configure runs
	// (a sweep reads and hashes, it never transforms): kms:ListAliases
	// names the source key's aliases, kms:DescribeKey finds the key of the
	// same alias in the destination.
	writeActions: []string{"s3:PutEncryptionConfiguration", "kms:ListAliases", "kms:DescribeKey"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.ServerSideEncryptionConfiguration, error) {
		out, err := e.s3(b).GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchEncryption) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return canonicalEncryption(out.ServerSideEncryptionConfiguration), nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.ServerSideEncryptionConfiguration) error {
		_, err := e.s3(b).PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &b.Name,
			ServerSideEncryptionConfiguration: v})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: &b.Name})
		return err
	},
	xform: func(ctx context.Context, e *Engine, m Mirror, v *types.ServerSideEncryptionConfiguration) (*types.ServerSideEncryptionConfiguration, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		out := types.ServerSideEncryptionConfiguration{Rules: make([]types.ServerSideEncryptionRule, len(v.Rules))}
		var notes []Note
		for i, rule := range v.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil && d.KMSMasterKeyID != nil {
				key, note, err := e.destinationKMSKey(ctx, m, *d.KMSMasterKeyID)
				if err != nil {
					return nil, notes, err
				}
				if note != "" {
					notes = append(notes, Note{Severity: SeverityInfo, Message: note})
				}
				mapped := *d
				mapped.KMSMasterKeyID = aws.String(key)
				rule.ApplyServerSideEncryptionByDefault = &mapped
			}
			out.Rules[i] = rule
		}
		return &out, notes, nil
	},
}

// canonicalEncryption drops what S3 answers for "not set" (an empty key id,
// BucketKeyEnabled false, no blocked types) and sorts blocked types.
func canonicalEncryption(c *types.ServerSideEncryptionConfiguration) *types.ServerSideEncryptionConfiguration {
	if c == nil || len(c.Rules) == 0 {
		return nil
	}
	out := types.ServerSideEncryptionConfiguration{Rules: make([]types.ServerSideEncryptionRule, len(c.Rules))}
	for i, r := range c.Rules {
		if d := r.ApplyServerSideEncryptionByDefault; d != nil {
			byDefault := types.ServerSideEncryptionByDefault{SSEAlgorithm: d.SSEAlgorithm}
			if aws.ToString(d.KMSMasterKeyID) != "" {
				byDefault.KMSMasterKeyID = d.KMSMasterKeyID
			}
			r.ApplyServerSideEncryptionByDefault = &byDefault
		}
		if !aws.ToBool(r.BucketKeyEnabled) {
			r.BucketKeyEnabled = nil
		}
		if b := r.BlockedEncryptionTypes; b == nil || len(b.EncryptionType) == 0 {
			r.BlockedEncryptionTypes = nil
		} else {
			blocked := slices.Clone(b.EncryptionType)
			slices.Sort(blocked)
			r.BlockedEncryptionTypes = &types.BlockedEncryptionTypes{EncryptionType: blocked}
		}
		out.Rules[i] = r
	}
	return &out
}

// awsManagedS3Key is the alias of the AWS managed key for S3, which AWS
// creates in every Region on first use.
const awsManagedS3Key = "aws/s3"

var (
	kmsKeyIDPattern = regexp.MustCompile(`^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	kmsAliasPattern = regexp.MustCompile(`^alias/([a-zA-Z0-9/_-]{1,250})$`)
	kmsARNPattern   = regexp.MustCompile(`^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key/.+|alias/.+)$`)
)

// kmsKeyRef is a parsed way of naming a KMS key: a key id or an alias name,
// with the partition, Region and account when written as an ARN.
type kmsKeyRef struct {
	partition, region, account string
	keyID                      string
	alias                      string // without "alias/"
}

func parseKMSKeyRef(s string) (kmsKeyRef, bool) {
	var ref kmsKeyRef
	if m := kmsARNPattern.FindStringSubmatch(s); m != nil {
		ref.partition, ref.region, ref.account = m[1], m[2], m[3]
		s = m[4]
		if id, ok := strings.CutPrefix(s, "key/"); ok {
			ref.keyID = id
			return ref, kmsKeyIDPattern.MatchString(id)
		}
	}
	if m := kmsAliasPattern.FindStringSubmatch(s); m != nil {
		ref.alias = m[1]
		return ref, true
	}
	if ref.region == "" && kmsKeyIDPattern.MatchString(s) {
		ref.keyID = s
		return ref, true
	}
	return kmsKeyRef{}, false
}

// names says whether ref names the key or alias other does, a Region-less
// ref being in region.
func (ref kmsKeyRef) names(other kmsKeyRef, region string) bool {
	inRegion := func(r kmsKeyRef) string {
		if r.region == "" {
			return region
		}
		return r.region
	}
	if inRegion(ref) != inRegion(other) {
		return false
	}
	return (ref.keyID != "" && ref.keyID == other.keyID) || (ref.alias != "" && ref.alias == other.alias)
}

// destinationKMSKey returns the key to use in the destination Region for the
// source's key id, and a note saying how it was found.
func (e *Engine) destinationKMSKey(ctx context.Context, m Mirror, key string) (string, string, error) {
	src, dst := m.Source.Region, m.Dest.Region
	ref, ok := parseKMSKeyRef(key)
	if !ok {
		return "", "", fmt.Errorf("mapping KMS key %q of the source in %s: not a KMS key ARN, key id or alias", key, src)
	}
	if ref.alias == awsManagedS3Key {
		if ref.region != "" {
			// The AWS managed key of the destination's own account.
			account := ref.account
			if m.Dest.Account != "" || m.Source.Account != "" {
				account = e.accountOf(m.Dest)
			}
			return fmt.Sprintf("arn:%s:kms:%s:%s:alias/%s", ref.partition, dst, account, awsManagedS3Key), "", nil
		}
		return key, "", nil
	}
	if mapped, ok, err := e.mappedKMSKey(m, key, func(r kmsKeyRef) bool { return r.names(ref, src) }); ok || err != nil {
		return mapped, fmt.Sprintf("KMS key %s (%s) mapped to %s (%s) by Options.KMSKeys", key, src, mapped, dst), err
	}
	if ref.account != "" && e.accountOf(m.Source) != "" && ref.account != e.accountOf(m.Source) {
		return "", "", fmt.Errorf("mapping KMS key %s of the source in %s: it belongs to account %s, whose aliases cannot be looked up; map it with Options.KMSKeys",
			key, src, ref.account)
	}
	if strings.HasPrefix(ref.keyID, "mrk-") {
		// A multi-Region key's replicas share its key id.
		if meta, err := describeKMSKey(ctx, e, m.Dest, ref.keyID); err != nil || meta != nil {
			if err != nil {
				return "", "", fmt.Errorf("looking up replica of KMS key %s in %s: %w", key, dst, err)
			}
			return aws.ToString(meta.Arn), fmt.Sprintf("KMS key %s (%s) mapped to its multi-Region replica %s (%s)", key, src, aws.ToString(meta.Arn), dst), nil
		}
	}
	aliases := []string{ref.alias}
	if ref.alias == "" {
		var err error
		if aliases, err = kmsAliases(ctx, e, m.Source, key); err != nil {
			return "", "", fmt.Errorf("listing aliases of KMS key %s in %s: %w", key, src, err)
		}
		if slices.Contains(aliases, awsManagedS3Key) {
			return "alias/" + awsManagedS3Key, "", nil
		}
		if mapped, ok, err := e.mappedKMSKey(m, key, func(r kmsKeyRef) bool {
			return r.alias != "" && slices.Contains(aliases, r.alias) && (r.region == "" || r.region == src)
		}); ok || err != nil {
			return mapped, fmt.Sprintf("KMS key %s (%s) mapped to %s (%s) by Options.KMSKeys", key, src, mapped, dst), err
		}
	}
	if len(aliases) == 0 {
		return "", "", fmt.Errorf("mapping KMS key %s of the source in %s: it has no alias, so no key of the same alias can be found in %s; map it with Options.KMSKeys",
			key, src, dst)
	}
	found := map[string][]string{} // destination key ARN -> aliases naming it
	for _, alias := range aliases {
		meta, err := describeKMSKey(ctx, e, m.Dest, "alias/"+alias)
		if err != nil {
			return "", "", fmt.Errorf("looking up KMS alias alias/%s in %s: %w", alias, dst, err)
		}
		if meta == nil {
			continue
		}
		if meta.KeyState != kmstypes.KeyStateEnabled {
			return "", "", fmt.Errorf("mapping KMS key %s of the source in %s: the key of alias alias/%s in %s is %s, not Enabled",
				key, src, alias, dst, meta.KeyState)
		}
		found[aws.ToString(meta.Arn)] = append(found[aws.ToString(meta.Arn)], "alias/"+alias)
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("mapping KMS key %s of the source in %s: no KMS key with alias %s in %s; create one or map the key with Options.KMSKeys",
			key, src, strings.Join(prefixAll("alias/", aliases), " or "), dst)
	case 1:
		for arn, names := range found {
			return arn, fmt.Sprintf("KMS key %s (%s) mapped to %s (%s), the key of %s there", key, src, arn, dst, strings.Join(names, ", ")), nil
		}
	}
	return "", "", fmt.Errorf("mapping KMS key %s of the source in %s: its aliases name %d different keys in %s; map it with Options.KMSKeys",
		key, src, len(found), dst)
}

// mappedKMSKey looks key up in Options.KMSKeys: by its exact spelling first,
// then by any entry that names the same key (match).
func (e *Engine) mappedKMSKey(m Mirror, key string, match func(kmsKeyRef) bool) (string, bool, error) {
	var from []string
	if _, ok := e.opts.KMSKeys[key]; ok {
		from = []string{key}
	} else {
		for k := range e.opts.KMSKeys {
			if ref, ok := parseKMSKeyRef(k); ok && match(ref) {
				from = append(from, k)
			}
		}
		slices.Sort(from)
	}
	if len(from) == 0 {
		return "", false, nil
	}
	to := e.opts.KMSKeys[from[0]]
	for _, k := range from[1:] {
		if e.opts.KMSKeys[k] != to {
			return "", true, fmt.Errorf("mapping KMS key %s with Options.KMSKeys: it is mapped both as %q and as %q, to different keys", key, from[0], k)
		}
	}
	ref, ok := parseKMSKeyRef(to)
	if !ok {
		return "", true, fmt.Errorf("mapping KMS key %s with Options.KMSKeys: %q is mapped to %q, which is not a KMS key ARN, alias or key id", key, from[0], to)
	}
	if ref.region != "" && ref.region != m.Dest.Region {
		return "", true, fmt.Errorf("mapping KMS key %s with Options.KMSKeys: %q is mapped to %q, a key in %s, not in the destination Region %s",
			key, from[0], to, ref.region, m.Dest.Region)
	}
	return to, true, nil
}

// kmsAliases lists the alias names (without "alias/") of key in the
// Region and account of b.
func kmsAliases(ctx context.Context, e *Engine, b Bucket, key string) ([]string, error) {
	var names []string
	pages := kms.NewListAliasesPaginator(e.clientsFor(b).KMS(b.Region), &kms.ListAliasesInput{KeyId: &key})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range page.Aliases {
			if name, ok := strings.CutPrefix(aws.ToString(a.AliasName), "alias/"); ok {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// describeKMSKey returns the key named by id in the Region and account of
// b (an alias resolves in that account), or nil if there is none.
func describeKMSKey(ctx context.Context, e *Engine, b Bucket, id string) (*kmstypes.KeyMetadata, error) {
	out, err := e.clientsFor(b).KMS(b.Region).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
	if isNotFound(err, codeKMSNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.KeyMetadata, nil
}

func prefixAll(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}
