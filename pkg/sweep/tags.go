package sweep

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// target is one destination a source's tags ask for.
type target struct {
	Region string
	// Dest is the explicit destination name (<prefix>destination-bucket),
	// empty for the derived one.
	Dest string
	// Account is the destination account (<prefix>destination-account),
	// empty for the source's own.
	Account string
}

// place is where t's mirror record and lease are keyed (inventory.Place):
// the Region, with the destination account only when it is not src's, as
// create and configure key them.
func (t target) place(src *source) string {
	if t.Account == "" || t.Account == src.Account {
		return t.Region
	}
	return inventory.Place(t.Region, t.Account)
}

// invalidTarget is a part of the tag value that cannot be acted on. Region
// keys its INVALID mirror record: the token as written, or noRegion when the
// whole value is unusable without naming a Region.
type invalidTarget struct {
	Region  string
	Message string
}

// noRegion keys the INVALID record of a tag value that names no Region.
const noRegion = "-"

// parseTargets reads the tag contract of docs/architecture.md: <prefix>destination-
// regions is a space-separated list of Region codes (S3 tag values cannot
// hold commas), <prefix>destination-bucket an explicit destination name,
// allowed only with a single Region, <prefix>destination-account the
// destination's account id (absent: the source's account). Repeated Regions count once.
func parseTargets(c Config, source, sourceRegion string, tags map[string]string) ([]target, []invalidTarget) {
	value := tags[c.regionsTag()]
	dest, hasDest := tags[c.bucketTag()]
	account, hasAccount := tags[c.accountTag()]
	bad := func(region, format string, args ...any) invalidTarget {
		return invalidTarget{Region: region, Message: fmt.Sprintf("source bucket %q: tag %s=%q: %s", source, c.regionsTag(), value, fmt.Sprintf(format, args...))}
	}
	regions := slices.Compact(slices.Sorted(slices.Values(strings.Fields(value))))
	if len(regions) == 0 {
		return nil, []invalidTarget{bad(noRegion, "names no Region; write space-separated Region codes such as \"us-west-2 eu-central-1\"")}
	}
	if hasDest && len(regions) > 1 {
		var out []invalidTarget
		for _, r := range regions {
			out = append(out, bad(r, "%s=%q is allowed only with a single Region", c.bucketTag(), dest))
		}
		return nil, out
	}
	var targets []target
	var invalid []invalidTarget
	for _, r := range regions {
		switch {
		case mirror.ValidateRegion(r) != nil:
			invalid = append(invalid, bad(r, "%q is not a known AWS Region code (Regions are separated by spaces, not commas)", r))
		case r == sourceRegion:
			invalid = append(invalid, bad(r, "%q is the source bucket's own Region", r))
		case !c.allowsRegion(r):
			invalid = append(invalid, bad(r, "%q is not one of this deployment's destination Regions (%s)", r, strings.Join(c.DestinationRegions, " ")))
		case hasDest && mirror.ValidateBucketName(dest) != nil:
			invalid = append(invalid, bad(r, "%s=%q is not a valid bucket name: %s", c.bucketTag(), dest, mirror.ValidateBucketName(dest)))
		case hasDest && dest == source:
			invalid = append(invalid, bad(r, "%s=%q is the source bucket itself", c.bucketTag(), dest))
		case hasAccount && !accountRE.MatchString(account):
			invalid = append(invalid, bad(r, "%s=%q is not a 12-digit AWS account id", c.accountTag(), account))
		default:
			targets = append(targets, target{Region: r, Dest: dest, Account: account})
		}
	}
	return targets, invalid
}
