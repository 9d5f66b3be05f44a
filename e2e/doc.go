// Package e2e is the conformance suite, in two parts.
//
// TestConformance sends the request behind rows of docs/s3-conformance.md
// and checks that the answer's status and error code are the ones the row
// (and so the local cloud) claims.
//
// TestMirrorScenarios runs the engine's mirroring scenarios (every kind
// mirrored to another Region and planned again, a public source through
// Block Public Access, BucketOwnerEnforced and ACLs, an MFA delete
// destination, Region-bound policy conditions, a Region without a feature,
// a notification target whose policy does not admit the destination)
// with the same engine the Lambdas run; the probes inside them report rows
// too.
//
// `make test` runs both against the local cloud. With BUCKETMIRROR_E2E=1 and
// AWS credentials they run against that real account instead, creating only
// buckets named bmtest-<random>... (the engine's name prefix is set to the
// scenario's, so its log buckets and destinations carry it too) and deleting
// them, emptied, when each scenario ends; set BUCKETMIRROR_E2E_REPORT=FILE to
// get the observed answers as table rows to refresh the evidence column. The
// README has the cost and safety note.
package e2e
