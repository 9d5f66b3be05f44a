package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxExecutionName is Step Functions' limit on execution names; they may
// hold only A-Z, a-z, 0-9, - and _.
const maxExecutionName = 80

// ExecutionName is the deterministic name of the execution that brings the
// mirror of source at place (a Region, or inventory.Place's Region#account
// for a destination in another account) up to date with the source snapshot
// sourceHash. Two sweeps that see the same state compute the same name, so
// the second StartExecution is a no-op (ExecutionAlreadyExists).
//
// Besides source, Region and snapshot hash, the digest covers the
// destination hash that was observed (a repair of an unchanged source needs a
// new name: the old one belongs to the run that applied that source) and the
// mirror's last run (a retry after a failure needs a new name: names of
// finished executions cannot be reused for 90 days).
func ExecutionName(source, place, sourceHash, observedDestHash, lastRunID string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{source, place, sourceHash, observedDestHash, lastRunID}, "\x00")))
	// "#" is not allowed in execution names.
	suffix := "-" + strings.ReplaceAll(place, "#", "-") + "-" + hex.EncodeToString(sum[:8])
	// Bucket names are lowercase letters, digits, dots and hyphens; dots
	// are not allowed in execution names.
	head := strings.ReplaceAll(source, ".", "-")
	if n := maxExecutionName - len(suffix); len(head) > n {
		head = head[:n]
	}
	return head + suffix
}
