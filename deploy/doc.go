// Package deploy checks the SAM deployment: template.yaml and
// samconfig.toml at the repository root, transformed offline by
// scripts/sam-transform.py. Its tests run cfn-lint and the SAM transform, and
// hold the template to the code: IAM actions against the catalog
// (bucketconfig.Actions), the state machine's ${...} placeholders against
// DefinitionSubstitutions, its Task states against the state machine's
// role, the functions' settings against the Makefile's build, and the
// environment the Go code reads against the functions' variables.
//
// The package has no code of its own: everything is in its tests.
package deploy
