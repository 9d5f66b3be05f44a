package bucketconfig

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Kinds is the catalog, in the order the original blog's sequential copy
// (and Options.Sequential) applies them: the order S3 itself requires when
// going one kind at a time, then the rest.
var Kinds = []Kind{
	ownershipKind,
	publicAccessBlockKind,
	versioningKind,
	objectLockKind,
	encryptionKind,
	tagsKind,
	aclKind,
	policyKind,
	lifecycleKind,
	corsKind,
	websiteKind,
	loggingKind,
	requesterPaysKind,
	accelerateKind,
	notificationsKind,
	intelligentTieringKind,
	analyticsKind,
	metricsKind,
	inventoryKind,
	replicationKind,
	abacKind,
	metadataKind,
}

// edge is an ordering constraint of S3 between the writes of two kinds:
// after's write waits for before's when applies says the constraint holds
// for this plan. Everything without an edge is written at once, in
// parallel. Edges whose before does not write cost nothing (its step is done
// at once), so applies only has to tell the cases where both write but S3
// does not care.
type edge struct {
	before, after string
	applies       func(p *Plan) bool
}

// edges are the only real constraints: each says why S3 needs it. Public
// means what S3 means by it (see isPublicPolicy, isPublicACL); conditions
// that pair up (ownership/acl, public-access-block/policy,
// public-access-block/acl) are mutually exclusive, so the graph of a plan
// never has a cycle.
var edges = []edge{
	// S3 refuses every ACL write while the bucket's ownership is
	// BucketOwnerEnforced (AccessControlListNotSupported), the default of
	// new buckets: the ACL waits until ownership has left it.
	{"ownership", "acl", func(p *Plan) bool {
		return p.writes("acl") && p.writes("ownership") && currentOwnership(p) == types.ObjectOwnershipBucketOwnerEnforced
	}},
	// And the other way round: S3 refuses BucketOwnerEnforced while the ACL
	// grants to anyone but the owner (InvalidBucketAclWithObjectOwnership),
	// so the ACL is reset to private first.
	{"acl", "ownership", func(p *Plan) bool {
		return p.action("acl") == ActionDelete && desiredOwnership(p) == types.ObjectOwnershipBucketOwnerEnforced
	}},
	// Never more public than the source, not even for a moment: a public
	// policy or ACL is written only once Block Public Access has been
	// relaxed as far as the source's (and S3's BlockPublicPolicy and
	// BlockPublicAcls refuse it before that, 403 AccessDenied).
	{"public-access-block", "policy", func(p *Plan) bool {
		return p.writes("public-access-block") && p.puts("policy") && isPublicPolicy(p.desired("policy"))
	}},
	{"public-access-block", "acl", func(p *Plan) bool {
		return p.writes("public-access-block") && p.puts("acl") && isPublicACL(p.desired("acl"))
	}},
	// The same rule from the other side: when Block Public Access is
	// relaxed, a public policy or ACL the destination has now (one the
	// source does not have) would take effect the moment BPA stops hiding
	// it, so it is replaced first.
	{"policy", "public-access-block", func(p *Plan) bool {
		return p.writes("public-access-block") && p.writes("policy") && isPublicPolicy(p.current("policy")) && !isPublicPolicy(p.desired("policy"))
	}},
	{"acl", "public-access-block", func(p *Plan) bool {
		return p.writes("public-access-block") && p.writes("acl") && isPublicACL(p.current("acl")) && !isPublicACL(p.desired("acl"))
	}},
	// Tags before ABAC, whichever way ABAC changes: once ABAC is on, tags
	// decide access and must already be the source's, and S3 refuses
	// PutBucketTagging on it (the tags kind picks PutBucketTagging or S3
	// Control TagResource from the ABAC status it read, which must still
	// hold when it writes).
	{"tags", "abac", func(p *Plan) bool { return p.writes("tags") && p.writes("abac") }},
	// Replication needs versioning on the bucket it replicates from
	// (InvalidRequest otherwise). Object Lock needs versioning too, but a
	// bucket with Object Lock was created with versioning on and can never
	// suspend it, and bucketmirror writes retention only to such a bucket.
	{"versioning", "replication", func(p *Plan) bool { return p.writes("versioning") && p.puts("replication") }},
	// A bucket that logs into itself receives log delivery through its own
	// policy or ACL, which PutBucketLogging checks; logging into another
	// bucket depends on that bucket's policy only (see logging.go).
	{"policy", "logging", selfLogging},
	{"acl", "logging", selfLogging},
}

func selfLogging(p *Plan) bool {
	v, ok := p.desired("logging").(*loggingConfig)
	return ok && p.puts("logging") && v.TargetBucket == p.Mirror.Dest.Name
}

// waitsFor returns the kinds whose writes kind's write must follow in p.
func (p *Plan) waitsFor(kind string) []string {
	var out []string
	for _, e := range edges {
		if e.after == kind && e.applies(p) {
			out = append(out, e.before)
		}
	}
	return out
}

// everBefore returns every kind that can ever have to come before kind;
// the sequential mode, which goes in catalog order, skips kind when one of
// them failed.
func everBefore(kind string) []string {
	var out []string
	for _, e := range edges {
		if e.after == kind {
			out = append(out, e.before)
		}
	}
	return out
}

// WriteRounds is the longest chain of writes in p that must happen one after
// another: with the read round before it, the lower bound in round trips
// of applying p.
func (p *Plan) WriteRounds() int {
	depth := map[string]int{}
	var visit func(string, int) int
	visit = func(kind string, guard int) int {
		if d, ok := depth[kind]; ok {
			return d
		}
		if !p.writes(kind) || guard > len(Kinds) {
			return 0
		}
		d := 1
		for _, dep := range p.waitsFor(kind) {
			d = max(d, visit(dep, guard+1)+1)
		}
		depth[kind] = d
		return d
	}
	longest := 0
	for _, s := range p.Steps {
		longest = max(longest, visit(s.Kind, 0))
	}
	return longest
}

// KindByName returns the catalog entry called name.
func KindByName(name string) (Kind, bool) {
	i := slices.IndexFunc(Kinds, func(k Kind) bool { return k.Name() == name })
	if i < 0 {
		return nil, false
	}
	return Kinds[i], true
}

// Actions returns the IAM actions needed to read every kind of a source and
// to write every kind of a destination, sorted and deduplicated.
func Actions() (read, write []string) {
	for _, k := range Kinds {
		read = append(read, k.ReadActions()...)
		write = append(write, k.WriteActions()...)
	}
	slices.Sort(read)
	slices.Sort(write)
	return slices.Compact(read), slices.Compact(write)
}
