package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/statemachine"
)

const (
	repoRoot      = ".."
	templatePath  = "../template.yaml"
	transformPath = "../scripts/sam-transform.py"
	samconfigPath = "../samconfig.toml"
	aslPath       = "statemachine/mirror.asl.json" // as DefinitionUri names it
	// lambdaArch is what the Makefile's build-% rule builds (GOARCH_LAMBDA).
	lambdaArch = "arm64"
	// toolTimeout bounds each cfn-lint or transform run.
	toolTimeout = 3 * time.Minute
)

// unscopable are the actions allowed on Resource "*", each because IAM has
// no resource-level permissions for it (IAM Service Authorization
// Reference). Any other action on "*" fails TestNoWildcardGrants.
var unscopable = map[string]string{
	"tag:GetResources":           "the Resource Groups Tagging API has no resource-level permissions",
	"kms:ListAliases":            "ListAliases lists the account's aliases; it has no resource type",
	"s3:ListAllMyBuckets":        "ListBuckets lists the account's buckets; it has no resource type",
	"organizations:ListAccounts": "ListAccounts lists the Organization's accounts; it has no resource type",
	// Step Functions logging to CloudWatch Logs goes through vended log
	// delivery, whose actions only work on "*".
	"logs:CreateLogDelivery":        "vended log delivery",
	"logs:GetLogDelivery":           "vended log delivery",
	"logs:UpdateLogDelivery":        "vended log delivery",
	"logs:DeleteLogDelivery":        "vended log delivery",
	"logs:ListLogDeliveries":        "vended log delivery",
	"logs:PutResourcePolicy":        "vended log delivery",
	"logs:DescribeResourcePolicies": "vended log delivery",
	"logs:DescribeLogGroups":        "vended log delivery",
}

// notGranted are catalog actions deliberately left out of the configure
// function's role, with the reason. TestCatalogActionsAreGranted fails when
// the catalog stops declaring one (stale entry) or when the reason stops
// holding.
var notGranted = map[string]string{
	"iam:PassRole": "the replication kind passes the source's replication role only when it copies rules " +
		"(Options.CopyReplication); the deployed configure function reports replication instead",
}

// templates holds the output of scripts/sam-transform.py for template.yaml.
var templates struct {
	once        sync.Once
	source      cfnTemplate // template.yaml as written
	transformed cfnTemplate // after the SAM transform
	err         error
}

func python() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// runTool runs a command with a timeout and returns stdout; stderr goes into
// the error.
func runTool(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// transformTemplate runs the SAM transform offline on path.
func transformTemplate(path string) (source, transformed cfnTemplate, err error) {
	out, err := runTool(python(), transformPath, path)
	if err != nil {
		return source, transformed, fmt.Errorf("SAM transform (needs python3 with aws-sam-translator): %w", err)
	}
	var both struct {
		Template    cfnTemplate `json:"template"`
		Transformed cfnTemplate `json:"transformed"`
	}
	if err := json.Unmarshal(out, &both); err != nil {
		return source, transformed, fmt.Errorf("decoding the transform's output: %w", err)
	}
	return both.Template, both.Transformed, nil
}

// readASL decodes a state machine definition of the repository.
func readASL(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	var asl map[string]any
	if err := json.Unmarshal(raw, &asl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return asl
}

func loadTemplates(t *testing.T) (source, transformed cfnTemplate) {
	t.Helper()
	templates.once.Do(func() {
		templates.source, templates.transformed, templates.err = transformTemplate(templatePath)
	})
	if templates.err != nil {
		t.Fatal(templates.err)
	}
	return templates.source, templates.transformed
}

// roleOf returns the logical id of the role a transformed function or state
// machine runs with (SAM's generated <LogicalId>Role).
func roleOf(t *testing.T, tmpl cfnTemplate, id string) string {
	t.Helper()
	r, ok := tmpl.Resources[id]
	if !ok {
		t.Fatalf("template has no resource %s", id)
	}
	prop := "Role"
	if r.Type == "AWS::StepFunctions::StateMachine" {
		prop = "RoleArn"
	}
	role := values(r.Properties[prop])
	if len(role) != 1 || !strings.HasSuffix(role[0], ".Arn}") {
		t.Fatalf("%s: %s is not a role of this template: %v", id, prop, role)
	}
	return strings.TrimSuffix(strings.TrimPrefix(role[0], "${"), ".Arn}")
}

func grantsOf(t *testing.T, tmpl cfnTemplate, id string) []grant {
	t.Helper()
	return grants(rolePolicies(tmpl, roleOf(t, tmpl, id)))
}

// TestCfnLint runs cfn-lint on template.yaml and forwarder.yaml, and on a broken template in
// the same run to show that the lint would catch one.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	bad := filepath.Join("testdata", "lint-fails.yaml")
	out, err := runTool("cfn-lint", "--format", "json", "--", templatePath, forwarderPath, bad)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running cfn-lint (preinstalled in the CI image; pip install cfn-lint elsewhere): %v", err)
	}
	var matches []struct {
		Filename string
		Level    string
		Message  string
		Rule     struct{ Id string }
		Location struct{ Start struct{ LineNumber int } }
	}
	if err := json.Unmarshal(out, &matches); err != nil {
		t.Fatalf("cfn-lint output is not JSON (%v): %s", err, out)
	}
	badSeen := false
	for _, m := range matches {
		if filepath.Clean(m.Filename) == filepath.Clean(bad) {
			badSeen = true
			continue
		}
		t.Errorf("%s:%d: %s %s: %s", m.Filename, m.Location.Start.LineNumber, m.Level, m.Rule.Id, m.Message)
	}
	if !badSeen {
		t.Errorf("cfn-lint found nothing wrong in %s, which is broken on purpose: is it linting at all?", bad)
	}
}

// TestSAMTransform transforms template.yaml offline, and shows that the
// transform fails on a missing DefinitionUri file and on an invalid SAM
// property.
func TestSAMTransform(t *testing.T) {
	t.Parallel()
	_, transformed := loadTemplates(t)
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::DynamoDB::Table"} {
		if !slices.ContainsFunc(sortedKeys(transformed.Resources), func(id string) bool { return transformed.Resources[id].Type == typ }) {
			t.Errorf("the transformed template has no %s", typ)
		}
	}
	for _, bad := range []string{"transform-missing-definition.yaml", "transform-invalid-event.yaml"} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			if _, _, err := transformTemplate(filepath.Join("testdata", bad)); err == nil {
				t.Errorf("the transform accepted testdata/%s, which is broken on purpose", bad)
			}
		})
	}
}

func TestNoWildcardGrants(t *testing.T) {
	_, transformed := loadTemplates(t)
	for _, f := range wildcardFindings(transformed, unscopable) {
		t.Error(f)
	}
	for _, f := range writesOnEveryBucket(grants(policyDocuments(transformed))) {
		t.Error(f)
	}
}

func TestFunctionsHaveExplicitSettings(t *testing.T) {
	source, _ := loadTemplates(t)
	for _, f := range functionSettingFindings(source, lambdaArch) {
		t.Error(f)
	}
}

// mirrorStateMachine returns the SAM state machine that deploys
// statemachine/mirror.asl.json, and its logical id.
func mirrorStateMachine(t *testing.T, source cfnTemplate) (string, resource) {
	t.Helper()
	var ids []string
	for _, id := range sortedKeys(source.Resources) {
		r := source.Resources[id]
		if r.Type == "AWS::Serverless::StateMachine" && r.Properties["DefinitionUri"] == aslPath {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one AWS::Serverless::StateMachine with DefinitionUri %s, found %v", aslPath, ids)
	}
	return ids[0], source.Resources[ids[0]]
}

func TestStateMachineSubstitutions(t *testing.T) {
	source, _ := loadTemplates(t)
	_, sm := mirrorStateMachine(t, source)
	subs, _ := sm.Properties["DefinitionSubstitutions"].(map[string]any)
	placeholders := statemachine.Placeholders()
	for _, f := range substitutionFindings(placeholders, subs) {
		t.Error(f)
	}
	// Placeholders only knows ${Name}; any other ${...} outside a Comment
	// would reach Step Functions as written.
	asl := readASL(t, aslPath)
	for _, f := range unsubstitutable(asl, placeholders) {
		t.Errorf("%s: %s", aslPath, f)
	}
}

// TestStateMachineRoleAllowsItsTasks derives what each Task state of the
// ASL calls and checks the state machine's role allows exactly that target.
func TestStateMachineRoleAllowsItsTasks(t *testing.T) {
	source, transformed := loadTemplates(t)
	id, sm := mirrorStateMachine(t, source)
	subs, _ := sm.Properties["DefinitionSubstitutions"].(map[string]any)
	asl := readASL(t, aslPath)
	needs, findings := taskNeeds(asl, subs, transformed)
	for _, f := range findings {
		t.Error(f)
	}
	if len(needs) == 0 {
		t.Fatal("no Task state found in the definition")
	}
	gs := grantsOf(t, transformed, id)
	for _, n := range needs {
		if !allows(gs, n.Action, n.Resource) {
			t.Errorf("Task %s needs %s on %s: not allowed to %s's role", n.State, n.Action, n.Resource, id)
		}
	}
}

// TestCatalogActionsAreGranted holds the functions' roles to the catalog:
// every read action on any bucket for configure and sweep (they snapshot
// sources and destinations), every write action on bucketmirror's own
// buckets for configure.
func TestCatalogActionsAreGranted(t *testing.T) {
	_, transformed := loadTemplates(t)
	read, write := bucketconfig.Actions()
	if len(read) == 0 || len(write) == 0 {
		t.Fatalf("bucketconfig.Actions() declares no actions (read %v, write %v)", read, write)
	}
	onBuckets := func(bucket string) func(string) string {
		return func(action string) string {
			if strings.HasPrefix(action, "s3:") {
				return bucket
			}
			return "" // KMS and IAM actions: any resource
		}
	}
	for _, fn := range []string{"ConfigureFunction", "SweepFunction", "SweepBatchFunction"} {
		for _, m := range missingGrants(grantsOf(t, transformed, fn), read, onBuckets(anyBucket)) {
			t.Errorf("%s: the catalog reads with %s, not granted", fn, m)
		}
	}
	var writes []string
	for _, a := range write {
		if notGranted[a] == "" {
			writes = append(writes, a)
		}
	}
	for _, m := range missingGrants(grantsOf(t, transformed, "ConfigureFunction"), writes, onBuckets(ownBucket)) {
		t.Errorf("ConfigureFunction: the catalog writes with %s, not granted", m)
	}

	for _, a := range sortedKeys(notGranted) {
		if !slices.Contains(write, a) {
			t.Errorf("notGranted lists %s, which the catalog no longer declares: remove it", a)
		}
	}
	// The reason for leaving iam:PassRole out holds only while the deployed
	// configure function never copies replication rules.
	for _, path := range []string{"../functions/configure/main.go", "../pkg/mirror/config.go"} {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(src, []byte("CopyReplication")) {
			t.Errorf("%s sets CopyReplication: grant ConfigureFunction iam:PassRole (Condition iam:PassedToService s3.amazonaws.com) and drop it from notGranted", path)
		}
	}
}

// codeActions are the actions each function's own code needs beyond the
// catalog's (pkg/bucketconfig declares those), each with the resource it
// needs it on and the SDK calls that need it. TestRolesGrantExactlyWhatTheCodeCalls
// holds the roles to this table in both directions, and looks for the
// calls in the Go code linked into the function, so an entry stays only
// while something calls it.
type codeAction struct {
	resource string   // "" = any resource
	calls    []string // SDK operation names (method or NewXPaginator)
}

// memberRole is the member role in some account, as the sweep assumes it.
const memberRole = "arn:${AWS::Partition}:iam::210987654321:role/${MemberRoleName}"

var codeActions = map[string]map[string]codeAction{
	"SweepFunction": {
		"tag:GetResources":      {"", []string{"GetResources"}},
		"s3:GetBucketLocation":  {anyBucket, []string{"GetBucketLocation"}},
		"states:StartExecution": {"${MirrorStateMachine}", []string{"StartExecution"}},
		"dynamodb:GetItem":      {"${InventoryTable.Arn}", []string{"GetItem"}},
		"dynamodb:Scan":         {"${InventoryTable.Arn}", []string{"Scan"}},
		// A targeted sweep reads one source's mirror records at once.
		"dynamodb:Query": {"${InventoryTable.Arn}", []string{"Query"}},
		// Without source Regions, ListBuckets names the Regions to search.
		"s3:ListAllMyBuckets": {"", []string{"ListBuckets"}},
		"dynamodb:PutItem":    {"${InventoryTable.Arn}", []string{"PutItem"}},
		"dynamodb:DeleteItem": {"${InventoryTable.Arn}", []string{"DeleteItem"}},
		"events:PutEvents":    {"", []string{"PutEvents"}},
		// SourceAccounts: the Organization's accounts, and the member role
		// in each account but this one.
		"organizations:ListAccounts": {"", []string{"ListAccounts"}},
		"sts:AssumeRole":             {memberRole, []string{"NewAssumeRoleProvider"}},
		// Lambda delivers the on-failure record of an asynchronous
		// invocation with the function's own role (SAM adds this grant for
		// EventInvokeConfig's SQS destination); no code of ours calls it.
		"sqs:SendMessage": {"${FailedSweepsQueue.Arn}", nil},
	},
	"SweepListFunction": {
		"tag:GetResources":           {"", []string{"GetResources"}},
		"s3:ListAllMyBuckets":        {"", []string{"ListBuckets"}},
		"dynamodb:Scan":              {"${InventoryTable.Arn}", []string{"Scan"}},
		"dynamodb:UpdateItem":        {"${InventoryTable.Arn}", []string{"UpdateItem"}},
		"s3:PutObject":               {"arn:${AWS::Partition}:s3:::${SweepBucket}/sweeps/sweep-1.json", []string{"PutObject"}},
		"organizations:ListAccounts": {"", []string{"ListAccounts"}},
		"sts:AssumeRole":             {memberRole, []string{"NewAssumeRoleProvider"}},
	},
	// The sweep function's, less what the listing does for it.
	"SweepBatchFunction": {
		"s3:GetBucketLocation":  {anyBucket, []string{"GetBucketLocation"}},
		"states:StartExecution": {"${MirrorStateMachine}", []string{"StartExecution"}},
		"dynamodb:GetItem":      {"${InventoryTable.Arn}", []string{"GetItem"}},
		"dynamodb:PutItem":      {"${InventoryTable.Arn}", []string{"PutItem"}},
		"dynamodb:DeleteItem":   {"${InventoryTable.Arn}", []string{"DeleteItem"}},
		"events:PutEvents":      {"", []string{"PutEvents"}},
		"sts:AssumeRole":        {memberRole, []string{"NewAssumeRoleProvider"}},
	},
	"SweepAggregateFunction": {
		"s3:GetObject":     {"arn:${AWS::Partition}:s3:::${SweepBucket}/sweeps/sweep-1.json", []string{"GetObject"}},
		"events:PutEvents": {"", []string{"PutEvents"}},
	},
	"CreateFunction": {
		// The Object Lock read also tells whether the source exists.
		"s3:GetBucketObjectLockConfiguration": {anyBucket, []string{"GetObjectLockConfiguration"}},
		"s3:ListBucket":                       {ownBucket, []string{"HeadBucket"}},
		"s3:CreateBucket":                     {ownBucket, []string{"CreateBucket"}},
		// CreateBucket with tags needs s3:TagResource, with
		// ObjectLockEnabledForBucket the Object Lock and versioning writes.
		"s3:TagResource":                      {ownBucket, []string{"CreateBucket", "TagResource"}},
		"s3:PutBucketObjectLockConfiguration": {ownBucket, []string{"CreateBucket"}},
		"s3:PutBucketVersioning":              {ownBucket, []string{"CreateBucket"}},
		// The source's ownership and tags go into the CreateBucket call
		// (x-amz-object-ownership needs s3:PutBucketOwnershipControls).
		"s3:GetBucketOwnershipControls": {anyBucket, []string{"GetBucketOwnershipControls"}},
		"s3:PutBucketOwnershipControls": {ownBucket, []string{"CreateBucket"}},
		// The source's tags, and the destination's ownership tag; the
		// source tag goes through the engine's one tag path, which asks for
		// ABAC and writes with S3 Control where it is on.
		"s3:GetBucketTagging":    {anyBucket, []string{"GetBucketTagging"}},
		"s3:PutBucketTagging":    {ownBucket, []string{"PutBucketTagging"}},
		"s3:GetBucketABAC":       {ownBucket, []string{"GetBucketAbac"}},
		"s3:ListTagsForResource": {ownBucket, []string{"ListTagsForResource"}},
		"dynamodb:GetItem":       {"${InventoryTable.Arn}", []string{"GetItem"}},
		"dynamodb:PutItem":       {"${InventoryTable.Arn}", []string{"PutItem", "TransactWriteItems"}},
		"sts:AssumeRole":         {memberRole, []string{"ForAccount"}},
	},
	"ConfigureFunction": {
		"dynamodb:GetItem": {"${InventoryTable.Arn}", []string{"GetItem"}},
		"dynamodb:PutItem": {"${InventoryTable.Arn}", []string{"PutItem", "TransactWriteItems"}},
		"sts:AssumeRole":   {memberRole, []string{"ForAccount"}},
	},
}

// catalogNeeds is what a function needs from the catalog: configure reads,
// transforms and writes (writes on bucketmirror's buckets only), the sweep
// only reads (it hashes snapshots, it never transforms).
func catalogNeeds(fn string) map[string]codeAction {
	read, write := bucketconfig.Actions()
	out := map[string]codeAction{}
	on := func(a, bucket string) codeAction {
		if strings.HasPrefix(a, "s3:") {
			return codeAction{resource: bucket}
		}
		return codeAction{} // KMS and IAM actions: any resource
	}
	switch fn {
	case "ConfigureFunction":
		for _, a := range write {
			if notGranted[a] == "" {
				out[a] = on(a, ownBucket)
			}
		}
		fallthrough
	case "SweepFunction", "SweepBatchFunction":
		for _, a := range read {
			out[a] = on(a, anyBucket)
		}
	}
	return out
}

// TestRolesGrantExactlyWhatTheCodeCalls: every action a function needs
// (the catalog's and codeActions) is granted on the resource it needs it
// on, every action its role grants is one it needs (an unused action
// fails as a missing one does), and every codeActions entry names an SDK
// call present in the code linked into the function.
func TestRolesGrantExactlyWhatTheCodeCalls(t *testing.T) {
	source, transformed := loadTemplates(t)
	for _, fn := range samFunctions(t, source) {
		needs := catalogNeeds(fn)
		for a, need := range codeActions[fn] {
			needs[a] = need
		}
		gs := grantsOf(t, transformed, fn)
		for _, f := range grantFindings(fn, gs, needs) {
			t.Error(f)
		}
		code := linkedSource(t, fn)
		for _, a := range sortedKeys(codeActions[fn]) {
			calls := codeActions[fn][a].calls
			if calls == nil {
				continue
			}
			if !slices.ContainsFunc(calls, func(c string) bool { return calledIn(code, c) }) {
				t.Errorf("%s: codeActions lists %s for %v, which no code linked into %s calls: drop the grant and the entry", fn, a, calls, functionDir(fn))
			}
		}
	}
}

// calledIn reports whether Go source calls the SDK operation op, directly
// or through its paginator.
func calledIn(code []byte, op string) bool {
	return bytes.Contains(code, []byte("."+op+"(")) || bytes.Contains(code, []byte(".New"+op+"Paginator("))
}

// TestS3WritesOnlyOnOwnBucketsInDestinationRegions: every S3 action but a
// Get* read is granted only on "<DestinationNamePrefix>*" - the log buckets
// too - and every S3 write only in the DestinationRegions.
func TestS3WritesOnlyOnOwnBucketsInDestinationRegions(t *testing.T) {
	_, transformed := loadTemplates(t)
	regions := strings.Fields(sampleParameters["DestinationRegions"])
	for _, f := range outsideOwnBuckets(grants(policyDocuments(transformed)), regions) {
		t.Error(f)
	}
}

// TestAccessScopedToTheStack: DynamoDB only on this table, Step Functions
// only on this state machine, Lambda only on this stack's functions.
func TestAccessScopedToTheStack(t *testing.T) {
	_, transformed := loadTemplates(t)
	scope := map[string]func(string) bool{
		"dynamodb:": func(r string) bool { return r == "${InventoryTable.Arn}" },
		"states:": func(r string) bool {
			return r == "${MirrorStateMachine}" || r == "${SweepStateMachine}" || strings.HasPrefix(r, "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-sweep") ||
				strings.HasPrefix(r, "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-sweep")
		},
		"lambda:": func(r string) bool {
			id := strings.TrimSuffix(strings.TrimPrefix(r, "${"), ".Arn}")
			return transformed.Resources[id].Type == "AWS::Lambda::Function"
		},
	}
	for _, g := range grants(policyDocuments(transformed)) {
		for prefix, ok := range scope {
			if strings.HasPrefix(strings.ToLower(g.Action), prefix) && !ok(g.Resource) {
				t.Errorf("%s: %s on %s reaches beyond this stack's resources", g.Where, g.Action, g.Resource)
			}
		}
	}
}

// functionDir is the main package a SAM function's logical id builds:
// SweepFunction → functions/sweep.
func functionDir(id string) string {
	return "functions/" + strings.ToLower(strings.TrimSuffix(id, "Function"))
}

func samFunctions(t *testing.T, source cfnTemplate) []string {
	t.Helper()
	var ids []string
	for _, id := range sortedKeys(source.Resources) {
		if source.Resources[id].Type == "AWS::Serverless::Function" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatal("template.yaml has no AWS::Serverless::Function")
	}
	return ids
}

// TestMakefileBuildsEachFunction dry-runs what `sam build` runs for each
// function (make build-<LogicalId> with ARTIFACTS_DIR set) and checks it
// builds that function's main package for the template's architecture into
// ARTIFACTS_DIR/bootstrap.
func TestMakefileBuildsEachFunction(t *testing.T) {
	source, _ := loadTemplates(t)
	for _, id := range samFunctions(t, source) {
		artifacts := t.TempDir()
		cmd := exec.Command("make", "--no-print-directory", "-n", "-C", repoRoot, "build-"+id)
		cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+artifacts)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n build-%s: %v\n%s", id, err, out)
			continue
		}
		dir := functionDir(id)
		if _, err := os.Stat(filepath.Join(repoRoot, dir)); err != nil {
			t.Errorf("%s: its main package %s does not exist", id, dir)
		}
		for _, want := range []string{"GOARCH=" + lambdaArch, "-o " + artifacts + "/bootstrap", "./" + dir} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("make build-%s (what sam build runs) does not build %s: want %q in\n%s\n"+
					"add to the Makefile: build-%s: ; $(MAKE) build-%s", id, dir, want, out, id, filepath.Base(dir))
				break
			}
		}
	}
}

// cwdRoot is the repository root as an absolute path.
func cwdRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var envLiteral = regexp.MustCompile(`"(BUCKETMIRROR_[A-Z0-9_]+)"`)

// linkedSource returns the text of every non-test Go file of this module
// linked into the function id, each file preceded by its path.
func linkedSource(t *testing.T, id string) []byte {
	t.Helper()
	pkg := "./" + functionDir(id)
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module (eq .Module.Path "github.com/bucketmirror/bucketmirror")}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{end}}`, pkg)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			stderr = exit.Stderr
		}
		t.Fatalf("%s: listing the packages of %s: %v\n%s", id, pkg, err, stderr)
	}
	var code []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		for _, file := range fields[1:] {
			path := filepath.Join(fields[0], file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(cwdRoot(t), path)
			if err != nil {
				rel = path
			}
			code = append(code, []byte("\n// FILE "+rel+"\n")...)
			code = append(code, src...)
		}
	}
	return code
}

// TestFunctionEnvironment: every BUCKETMIRROR_* variable named in the Go
// code linked into a function is set on that function (Globals or its own
// Environment).
func TestFunctionEnvironment(t *testing.T) {
	source, _ := loadTemplates(t)
	globalVars := map[string]any{}
	if fn, ok := source.Globals["Function"].(map[string]any); ok {
		if env, ok := fn["Environment"].(map[string]any); ok {
			globalVars, _ = env["Variables"].(map[string]any)
		}
	}
	for _, id := range samFunctions(t, source) {
		set := map[string]bool{}
		for name := range globalVars {
			set[name] = true
		}
		if env, ok := source.Resources[id].Properties["Environment"].(map[string]any); ok {
			vars, _ := env["Variables"].(map[string]any)
			for name := range vars {
				set[name] = true
			}
		}
		read := map[string]string{}
		file := ""
		for _, line := range strings.Split(string(linkedSource(t, id)), "\n") {
			if f, ok := strings.CutPrefix(line, "// FILE "); ok {
				file = f
				continue
			}
			for _, m := range envLiteral.FindAllStringSubmatch(line, -1) {
				read[m[1]] = file
			}
		}
		for _, name := range sortedKeys(read) {
			if !set[name] {
				t.Errorf("%s: %s reads %s, which the template does not set", id, read[name], name)
			}
		}
	}
}

// TestSamconfig checks the settings `sam deploy` needs after --guided.
func TestSamconfig(t *testing.T) {
	raw, err := os.ReadFile(samconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	settings := parseTOMLKeys(string(raw))
	want := map[string]string{
		"version":                                     "0.1",
		"default.deploy.parameters.resolve_s3":        "true",
		"default.deploy.parameters.capabilities":      `"CAPABILITY_IAM"`,
		"default.deploy.parameters.confirm_changeset": "true",
	}
	for _, key := range sortedKeys(want) {
		if settings[key] != want[key] {
			t.Errorf("samconfig.toml: %s = %s, want %s", key, settings[key], want[key])
		}
	}
	for _, key := range []string{"default.deploy.parameters.stack_name", "default.deploy.parameters.region"} {
		if settings[key] == "" {
			t.Errorf("samconfig.toml: %s is not set", key)
		}
	}
}

// parseTOMLKeys reads the flat key = value lines of a samconfig.toml into
// "section.key" → raw value; enough for the settings TestSamconfig checks.
func parseTOMLKeys(text string) map[string]string {
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]") + "."
		default:
			key, value, ok := strings.Cut(line, "=")
			if ok {
				out[section+strings.TrimSpace(key)] = strings.TrimSpace(value)
			}
		}
	}
	return out
}

// TestDashboardWidgets: the dashboard body is JSON once !Sub has filled it
// in, and every bucketmirror metric it charts is one the code emits in an
// EMF line (a renamed metric would leave an empty graph, not an error).
func TestDashboardWidgets(t *testing.T) {
	source, _ := loadTemplates(t)
	dash, ok := source.Resources["Dashboard"]
	if !ok {
		t.Fatal("no Dashboard resource")
	}
	sub, _ := dash.Properties["DashboardBody"].(map[string]any)
	body, _ := sub["Fn::Sub"].(string)
	if body == "" {
		t.Fatalf("DashboardBody is not a !Sub string: %v", dash.Properties["DashboardBody"])
	}
	var doc struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(regexp.MustCompile(`\$\{[^}]+\}`).ReplaceAllString(body, "X")), &doc); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	var code []byte
	for _, dir := range []string{"pkg/mirror", "pkg/sweep"} {
		files, _ := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				code = append(code, b...)
			}
		}
	}
	charted := 0
	for _, w := range doc.Widgets {
		namespace := ""
		for _, m := range w.Properties.Metrics {
			if len(m) < 2 {
				continue
			}
			if ns, _ := m[0].(string); ns != "." {
				namespace = ns
			}
			name, _ := m[1].(string)
			if namespace != "bucketmirror" {
				continue
			}
			charted++
			if !bytes.Contains(code, []byte(`emf.Count("`+name+`"`)) && !bytes.Contains(code, []byte(`emf.Milliseconds("`+name+`"`)) {
				t.Errorf("the dashboard charts bucketmirror metric %s, which no EMF line of pkg/mirror or pkg/sweep emits", name)
			}
		}
	}
	if charted == 0 {
		t.Error("the dashboard charts none of bucketmirror's own metrics")
	}
}

// sweepQueue returns the logical id of the SQS queue the sweep's failed
// asynchronous invocations go to (EventInvokeConfig's on-failure
// destination).
func sweepQueue(t *testing.T, source cfnTemplate) string {
	t.Helper()
	sweep := source.Resources["SweepFunction"].Properties
	cfg, _ := sweep["EventInvokeConfig"].(map[string]any)
	dest, _ := cfg["DestinationConfig"].(map[string]any)
	onFailure, _ := dest["OnFailure"].(map[string]any)
	if onFailure["Type"] != "SQS" {
		t.Fatalf("SweepFunction: EventInvokeConfig has no SQS on-failure destination (got %v): a sweep that fails twice is lost without a trace", onFailure)
	}
	q := values(onFailure["Destination"])
	id := strings.TrimSuffix(strings.TrimPrefix(strings.Join(q, ""), "${"), ".Arn}")
	if source.Resources[id].Type != "AWS::SQS::Queue" {
		t.Fatalf("SweepFunction: on-failure destination %v is not a queue of this template", q)
	}
	return id
}

// TestSweepFanOutIsBounded: the sweep runs at most ReservedConcurrentExecutions
// (a parameter) at once; its asynchronous invocations that fail go to an SQS
// queue whose depth is alarmed on; every EventBridge target (schedule and
// bucket-change rule) has a retry policy and that queue as its dead-letter
// queue, which lets each rule send to it.
func TestSweepFanOutIsBounded(t *testing.T) {
	source, transformed := loadTemplates(t)
	sweep := source.Resources["SweepFunction"].Properties
	rc, _ := sweep["ReservedConcurrentExecutions"].(map[string]any)
	param, _ := rc["Ref"].(string)
	if _, ok := source.Parameters[param]; !ok {
		t.Errorf("SweepFunction: ReservedConcurrentExecutions must be a parameter of the template (got %v): a burst of PutBucket* events would start a sweep each", sweep["ReservedConcurrentExecutions"])
	}
	queue := sweepQueue(t, source)

	events, _ := sweep["Events"].(map[string]any)
	if len(events) == 0 {
		t.Fatal("SweepFunction has no events")
	}
	for _, name := range sortedKeys(events) {
		ev, _ := events[name].(map[string]any)
		props, _ := ev["Properties"].(map[string]any)
		retry, _ := props["RetryPolicy"].(map[string]any)
		if _, ok := retry["MaximumRetryAttempts"].(float64); !ok {
			t.Errorf("SweepFunction event %s: no RetryPolicy.MaximumRetryAttempts", name)
		}
		if age, ok := retry["MaximumEventAgeInSeconds"].(float64); !ok || age > 3600 {
			t.Errorf("SweepFunction event %s: RetryPolicy.MaximumEventAgeInSeconds must be set, at most an hour (got %v)", name, retry["MaximumEventAgeInSeconds"])
		}
		dlq, _ := props["DeadLetterConfig"].(map[string]any)
		if got := values(dlq["Arn"]); !slices.Equal(got, []string{"${" + queue + ".Arn}"}) {
			t.Errorf("SweepFunction event %s: DeadLetterConfig.Arn = %v, want the failed-sweeps queue %s", name, got, queue)
			continue
		}
		// SAM names the rule <Function><Event>; the queue's policy must let
		// that rule send to it, or EventBridge drops the dead letter.
		rule := "SweepFunction" + name
		if transformed.Resources[rule].Type != "AWS::Events::Rule" {
			t.Errorf("the transformed template has no rule %s", rule)
			continue
		}
		allowed := false
		for _, id := range sortedKeys(transformed.Resources) {
			r := transformed.Resources[id]
			if r.Type != "AWS::SQS::QueuePolicy" || !slices.Contains(values(r.Properties["Queues"]), "${"+queue+"}") {
				continue
			}
			for _, st := range statements(r.Properties["PolicyDocument"]) {
				cond, _ := st["Condition"].(map[string]any)
				eq, _ := cond["ArnEquals"].(map[string]any)
				principal, _ := st["Principal"].(map[string]any)
				if st["Effect"] == "Allow" && slices.Contains(values(st["Action"]), "sqs:SendMessage") &&
					slices.Contains(values(principal["Service"]), "events.amazonaws.com") &&
					slices.Contains(values(eq["aws:SourceArn"]), "${"+rule+".Arn}") {
					allowed = true
				}
			}
		}
		if !allowed {
			t.Errorf("no queue policy lets rule %s (events.amazonaws.com, aws:SourceArn) send to %s", rule, queue)
		}
	}

	alarmed := false
	for _, id := range sortedKeys(source.Resources) {
		r := source.Resources[id]
		if r.Type != "AWS::CloudWatch::Alarm" || r.Properties["Namespace"] != "AWS/SQS" || r.Properties["MetricName"] != "ApproximateNumberOfMessagesVisible" {
			continue
		}
		dims, _ := r.Properties["Dimensions"].([]any)
		for _, d := range dims {
			dm, _ := d.(map[string]any)
			if dm["Name"] == "QueueName" && slices.Equal(values(dm["Value"]), []string{"${" + queue + ".QueueName}"}) {
				alarmed = true
			}
		}
	}
	if !alarmed {
		t.Errorf("no alarm on the depth (ApproximateNumberOfMessagesVisible) of %s", queue)
	}
}

// TestSweepFailedMetricAlarmed: per-bucket sweep failures return success
// (the Lambda Errors metric stays 0), so an alarm must watch the sweep's
// own Failed metric, for every Scope dimension value the code emits.
func TestSweepFailedMetricAlarmed(t *testing.T) {
	source, _ := loadTemplates(t)
	var code []byte
	files, _ := filepath.Glob(filepath.Join(repoRoot, "pkg/sweep", "*.go"))
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			code = append(code, b...)
		}
	}
	if !bytes.Contains(code, []byte(`emf.Count("Failed"`)) || !bytes.Contains(code, []byte(`{"Scope", sum.Scope}`)) {
		t.Fatal("pkg/sweep no longer emits Failed with a Scope dimension: update this test and the alarm")
	}
	scopes := map[string]bool{}
	for _, m := range regexp.MustCompile(`scope = "([a-z]+)"|scope := "([a-z]+)"|Scope: "([a-z]+)"`).FindAllSubmatch(code, -1) {
		scopes[string(bytes.Join(m[1:], nil))] = true
	}
	if len(scopes) < 2 {
		t.Fatalf("found the scopes %v in pkg/sweep, want full and targeted", sortedKeys(scopes))
	}
	watched := map[string]bool{}
	for _, id := range sortedKeys(source.Resources) {
		r := source.Resources[id]
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		metrics, _ := r.Properties["Metrics"].([]any)
		for _, m := range metrics {
			mm, _ := m.(map[string]any)
			stat, _ := mm["MetricStat"].(map[string]any)
			metric, _ := stat["Metric"].(map[string]any)
			if metric["Namespace"] != "bucketmirror" || metric["MetricName"] != "Failed" {
				continue
			}
			dims, _ := metric["Dimensions"].([]any)
			for _, d := range dims {
				dm, _ := d.(map[string]any)
				if dm["Name"] == "Scope" {
					watched[fmt.Sprint(dm["Value"])] = true
				}
			}
		}
	}
	for _, scope := range sortedKeys(scopes) {
		if !watched[scope] {
			t.Errorf("no alarm watches the sweep's Failed metric with Scope=%s", scope)
		}
	}
}

// TestRegionParameters: destinations and sources are configured apart, so
// allowing a Region to hold sources never widens where the functions may
// write. BUCKETMIRROR_REGIONS (where to look for sources) comes from
// SourceRegions, which may be empty; BUCKETMIRROR_DESTINATION_REGIONS from
// DestinationRegions, which also scopes the S3 write grants.
func TestRegionParameters(t *testing.T) {
	source, _ := loadTemplates(t)
	fn, _ := source.Globals["Function"].(map[string]any)
	env, _ := fn["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	for name, param := range map[string]string{"BUCKETMIRROR_REGIONS": "SourceRegions", "BUCKETMIRROR_DESTINATION_REGIONS": "DestinationRegions"} {
		if got := values(vars[name]); !slices.Equal(got, []string{"${" + param + "}"}) && !slices.Equal(got, []string{sampleParameters[param]}) {
			t.Errorf("Globals: %s = %v, want Ref %s", name, got, param)
		}
	}
	src, _ := source.Parameters["SourceRegions"].(map[string]any)
	if src["Default"] != "" {
		t.Errorf("SourceRegions must be optional (Default \"\"), got %v", src["Default"])
	}
	if _, ok := source.Parameters["AllowedRegions"]; ok {
		t.Error("AllowedRegions is both where sources are searched and where destinations are written: split it")
	}
}

// executionMargin is the share of the execution timeout the worst case of
// every path may use: an execution-level timeout cannot be caught, so it
// must never be what ends a run (the run would stay CREATED, unrecorded).
const executionMargin = 0.9

// TestWorstCaseFitsTheExecutionTimeout computes, from the ASL and the
// template, the longest any execution path can run - every Task's attempts
// (1 + each retrier's MaxAttempts) at its TimeoutSeconds, plus the retry
// intervals (IntervalSeconds, BackoffRate, MaxDelaySeconds) - and fails
// when it does not fit TimeoutSeconds with margin. A Lambda Task's timeout
// must exceed its function's Timeout (so the function's own deadline ends
// a stuck attempt, with its log and record), and a function that waits for
// a new bucket to propagate must outlast that wait.
func TestWorstCaseFitsTheExecutionTimeout(t *testing.T) {
	source, _ := loadTemplates(t)
	_, sm := mirrorStateMachine(t, source)
	subs, _ := sm.Properties["DefinitionSubstitutions"].(map[string]any)
	asl := readASL(t, aslPath)
	limit, ok := asl["TimeoutSeconds"].(float64)
	if !ok || limit <= 0 {
		t.Fatalf("%s has no TimeoutSeconds", aslPath)
	}
	propagation := bucketconfig.DefaultPropagationTimeout.Seconds()
	attempt := func(name string, st map[string]any) (float64, string) {
		timeout, ok := st["TimeoutSeconds"].(float64)
		if !ok {
			return 0, "no TimeoutSeconds: an attempt could run for a year"
		}
		res, _ := st["Resource"].(string)
		if m := wholePlaceholder.FindStringSubmatch(res); m != nil {
			fn := strings.TrimSuffix(strings.TrimPrefix(strings.Join(values(subs[m[1]]), ""), "${"), ".Arn}")
			fnTimeout, ok := source.Resources[fn].Properties["Timeout"].(float64)
			switch {
			case !ok:
				return timeout, fmt.Sprintf("its function %s has no Timeout", fn)
			case fnTimeout >= timeout:
				return timeout, fmt.Sprintf("TimeoutSeconds %v must exceed function %s's Timeout %v, so the function's deadline ends a stuck attempt", timeout, fn, fnTimeout)
			case fnTimeout <= propagation+10:
				return timeout, fmt.Sprintf("function %s's Timeout %v must outlast the bucket propagation wait (%v s) with margin", fn, fnTimeout, propagation)
			}
		}
		return timeout, ""
	}
	worst, path, findings := worstCasePath(asl, attempt)
	for _, f := range findings {
		t.Error(f)
	}
	t.Logf("worst case %.0f s along %s; execution timeout %.0f s", worst, strings.Join(path, " → "), limit)
	if worst > executionMargin*limit {
		t.Errorf("the worst case of path %s is %.0f s, more than %.0f%% of the execution timeout %.0f s: bound the retries or the timeouts",
			strings.Join(path, " → "), worst, executionMargin*100, limit)
	}
}

// sweepStateMachine is the SAM state machine that deploys
// statemachine/sweep.asl.json.
const sweepASLPath = "statemachine/sweep.asl.json"

// TestSweepStateMachine: the schedule starts the sweep state machine (not
// the sweep function); every ${...} of its definition is substituted; its
// role invokes exactly its Task functions, reads the manifest the
// ItemReader names and runs its own children; and the deployed definition
// is the real one (EXPRESS children, an integer ToleratedFailurePercentage
// — what the local cloud has to translate, never the other way round).
func TestSweepStateMachine(t *testing.T) {
	source, transformed := loadTemplates(t)
	sm, ok := source.Resources["SweepStateMachine"]
	if !ok || sm.Type != "AWS::Serverless::StateMachine" || sm.Properties["DefinitionUri"] != sweepASLPath {
		t.Fatalf("want SweepStateMachine deploying %s, got %+v", sweepASLPath, sm)
	}
	events, _ := sm.Properties["Events"].(map[string]any)
	schedule, _ := events["Schedule"].(map[string]any)
	props, _ := schedule["Properties"].(map[string]any)
	if schedule["Type"] != "Schedule" || !slices.Equal(values(props["Schedule"]), []string{"${SweepSchedule}"}) {
		t.Errorf("the sweep state machine is not started by the SweepSchedule: %v", events)
	}
	for _, id := range samFunctions(t, source) {
		fnEvents, _ := source.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range fnEvents {
			if ev, _ := e.(map[string]any); ev["Type"] == "Schedule" {
				t.Errorf("%s has a schedule (%s): full sweeps run on the sweep state machine", id, name)
			}
		}
	}

	subs, _ := sm.Properties["DefinitionSubstitutions"].(map[string]any)
	for _, f := range substitutionFindings(statemachine.SweepPlaceholders(), subs) {
		t.Error(f)
	}
	asl := readASL(t, sweepASLPath)
	for _, f := range unsubstitutable(asl, statemachine.SweepPlaceholders()) {
		t.Errorf("%s: %s", sweepASLPath, f)
	}
	needs, findings := taskNeeds(asl, subs, transformed)
	for _, f := range findings {
		t.Error(f)
	}
	if len(needs) != 4 {
		t.Errorf("want 4 Task states (list, reconcile-batch in each Map, aggregate), found %v", needs)
	}
	states, _ := asl["States"].(map[string]any)
	mapState, _ := states["ReconcileBatches"].(map[string]any)
	reader, _ := mapState["ItemReader"].(map[string]any)
	if reader["Resource"] != "arn:aws:states:::s3:getObject" {
		t.Errorf("ReconcileBatches does not read the manifest: %v", mapState)
	}
	inline, _ := states["ReconcileInlineBatches"].(map[string]any)
	if inline["ItemsPath"] != "$.listing.items" || inline["ItemReader"] != nil {
		t.Errorf("ReconcileInlineBatches does not take the listing's items: %v", inline)
	}
	// The two Maps differ only in where their items come from.
	for name, m := range map[string]map[string]any{"ReconcileBatches": mapState, "ReconcileInlineBatches": inline} {
		proc, _ := m["ItemProcessor"].(map[string]any)
		cfg, _ := proc["ProcessorConfig"].(map[string]any)
		if m["Type"] != "Map" || cfg["Mode"] != "DISTRIBUTED" || cfg["ExecutionType"] != "EXPRESS" || m["MaxConcurrencyPath"] != "$.listing.maxConcurrency" {
			t.Errorf("%s is not a Distributed Map of EXPRESS children: %v", name, m)
		}
		if tfp, ok := m["ToleratedFailurePercentage"].(float64); !ok || tfp != float64(int(tfp)) || tfp <= 0 || tfp >= 100 {
			t.Errorf("%s ToleratedFailurePercentage %v: want a whole percentage between 0 and 100", name, m["ToleratedFailurePercentage"])
		}
	}
	same := func(m map[string]any) string {
		c := maps.Clone(m)
		delete(c, "ItemReader")
		delete(c, "ItemsPath")
		delete(c, "Comment")
		raw, _ := json.Marshal(c)
		return string(raw)
	}
	if same(mapState) != same(inline) {
		t.Errorf("ReconcileBatches and ReconcileInlineBatches differ beyond their items:\n%s\n%s", same(mapState), same(inline))
	}

	gs := grantsOf(t, transformed, "SweepStateMachine")
	self := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-sweep"
	child := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-sweep/SweepBatches:0123"
	want := []taskNeed{
		{State: "ItemReader", Action: "s3:GetObject", Resource: "arn:${AWS::Partition}:s3:::${SweepBucket}/sweeps/sweep-1.json"},
		{State: "Map children", Action: "states:StartExecution", Resource: self},
		{State: "Map children", Action: "states:DescribeExecution", Resource: child},
	}
	for _, n := range append(needs, want...) {
		if !allows(gs, n.Action, n.Resource) {
			t.Errorf("%s needs %s on %s: not allowed to SweepStateMachine's role", n.State, n.Action, n.Resource)
		}
	}
	if names := values(sm.Properties["Name"]); len(names) != 1 || names[0] != "${AWS::StackName}-sweep" {
		t.Errorf("SweepStateMachine Name = %v, want ${AWS::StackName}-sweep (its role names it)", names)
	}
}

// TestSweepStepsLeastPrivilege: the list and aggregate steps get exactly
// what their code calls — no bucket reads, no StartExecution, events only on
// the configured bus — and the
// manifest bucket carries bucketmirror's name prefix and expires.
func TestSweepStepsLeastPrivilege(t *testing.T) {
	source, transformed := loadTemplates(t)
	manifest := "arn:${AWS::Partition}:s3:::${SweepBucket}/sweeps/*"
	want := map[string][]grant{
		"SweepListFunction": {
			{Action: "dynamodb:Scan", Resource: "${InventoryTable.Arn}"},
			{Action: "dynamodb:UpdateItem", Resource: "${InventoryTable.Arn}"},
			{Action: "organizations:ListAccounts", Resource: "*"},
			{Action: "s3:ListAllMyBuckets", Resource: "*"},
			{Action: "sts:AssumeRole", Resource: "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"},
			{Action: "s3:PutObject", Resource: manifest},
			{Action: "tag:GetResources", Resource: "*"},
		},
		"SweepAggregateFunction": {
			{Action: "events:PutEvents", Resource: "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"},
			{Action: "s3:GetObject", Resource: manifest},
		},
	}
	for _, id := range sortedKeys(want) {
		var got, wanted []string
		for _, g := range grantsOf(t, transformed, id) {
			if !strings.HasPrefix(g.Action, "logs:") && !strings.HasPrefix(g.Action, "xray:") {
				got = append(got, g.Action+" on "+g.Resource)
			}
		}
		for _, g := range want[id] {
			wanted = append(wanted, g.Action+" on "+g.Resource)
		}
		slices.Sort(got)
		slices.Sort(wanted)
		if !slices.Equal(slices.Compact(got), wanted) {
			t.Errorf("%s grants %v, want exactly %v", id, got, wanted)
		}
	}
	bucket := source.Resources["SweepBucket"]
	name := strings.Join(values(bucket.Properties["BucketName"]), "")
	if !strings.HasPrefix(name, "${DestinationNamePrefix}") {
		t.Errorf("SweepBucket name %q does not start with the name prefix", name)
	}
	lc, _ := json.Marshal(bucket.Properties["LifecycleConfiguration"])
	if !bytes.Contains(lc, []byte(`"ExpirationInDays":1`)) {
		t.Errorf("SweepBucket does not expire its manifests: %s", lc)
	}
}
