package bucketconfig

import "slices"

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

// dependsOn lists, per kind, the kinds whose write must finish before its
// own. Everything not listed is applied at once, in parallel.
var dependsOn = map[string][]string{
	// An ACL cannot be written while ownership is BucketOwnerEnforced (S3
	// answers AccessControlListNotSupported), the default of new buckets.
	"acl": {"ownership", "public-access-block"},
	// Block Public Access first, so the destination is never more public than
	// the source, not even for a moment: a public policy or ACL is only
	// accepted once BPA has been relaxed as far as the source's.
	"policy": {"public-access-block"},
	// Object Lock default retention and replication need versioning on.
	"object-lock": {"versioning"},
	"replication": {"versioning"},
	// ABAC is enabled only after the tags are written: with ABAC on, tags
	// must go through S3 Control TagResource, and tag-based policies would
	// judge requests against a half-written tag set.
	"abac": {"tags"},
	// A bucket that logs into itself receives log delivery through its own
	// policy or ACL; both must be in place before PutBucketLogging, which
	// S3 validates against them.
	"logging": {"policy", "acl"},
}

// KindByName returns the catalog entry called name.
func KindByName(name string) (Kind, bool) {
	i := slices.IndexFunc(Kinds, func(k Kind) bool { return k.Name() == name })
	if i < 0 {
		return nil, false
	}
	return Kinds[i], true
}

// DependencyDepth is the longest chain of writes that must happen one after
// another: the lower bound, in round trips, of applying a full plan.
func DependencyDepth() int {
	depth := map[string]int{}
	var visit func(string) int
	visit = func(name string) int {
		if d, ok := depth[name]; ok {
			return d
		}
		d := 1
		for _, dep := range dependsOn[name] {
			d = max(d, visit(dep)+1)
		}
		depth[name] = d
		return d
	}
	longest := 0
	for _, k := range Kinds {
		longest = max(longest, visit(k.Name()))
	}
	return longest
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
