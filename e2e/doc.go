// Package e2e is the S3 conformance suite: each scenario sends the request
// behind one row of docs/s3-conformance.md and checks that the answer's
// status and error code are the ones the row (and so the local cloud)
// claims.
//
// `make test` runs it against the local cloud. With BUCKETMIRROR_E2E=1 and
// AWS credentials it runs against that real account instead, creating only
// buckets named bmtest-<random> and deleting them when it ends; set
// BUCKETMIRROR_E2E_REPORT=FILE to get the observed answers as table rows to
// refresh the evidence column.
package e2e
