package deploy

// The checkers the template tests use, each a plain function of a decoded
// template so that it can be shown to fail on a small bad input (the tests
// at the end of this file).

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// cfnTemplate is a CloudFormation or SAM template decoded from JSON.
type cfnTemplate struct {
	Parameters map[string]any      `json:"Parameters"`
	Rules      map[string]any      `json:"Rules"`
	Conditions map[string]any      `json:"Conditions"`
	Globals    map[string]any      `json:"Globals"`
	Resources  map[string]resource `json:"Resources"`
}

type resource struct {
	Type       string         `json:"Type"`
	Condition  string         `json:"Condition"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
}

// grant is one action allowed on one resource by an Allow statement.
type grant struct {
	Where    string // role and statement, for messages
	Action   string
	Resource string
	// Regions are the values of the statement's aws:RequestedRegion
	// condition (StringEquals); nil = no such condition.
	Regions []string
}

// Resources as the checks write them: ${...} stays as CloudFormation would
// substitute it, so "arn:${AWS::Partition}:s3:::*" is compared as text.
const (
	// anyBucket stands for a source: any bucket of the account.
	anyBucket = "arn:${AWS::Partition}:s3:::any-source-bucket"
	// ownBucket stands for a destination bucketmirror creates.
	ownBucket = "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}example-destination"
)

// sampleParameters are the values intrinsic functions are evaluated with
// where a list has to be built (Fn::Split of a parameter).
var sampleParameters = map[string]string{
	"DestinationRegions": "us-west-2 eu-central-1",
}

// values evaluates a template value to the strings it can take: strings and
// lists as they are, Fn::Sub's text (its ${...} left as written),
// Ref X as "${X}" (a sample value for the parameters in sampleParameters),
// Fn::GetAtt X.A as "${X.A}", both branches of Fn::If, and Fn::Join and
// Fn::Split evaluated. Anything else is its JSON text, which matches no
// pattern a check looks for.
func values(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, values(e)...)
		}
		return out
	case map[string]any:
		if len(v) != 1 {
			break
		}
		for fn, arg := range v {
			switch fn {
			case "Ref":
				name, _ := arg.(string)
				if sample, ok := sampleParameters[name]; ok {
					return []string{sample}
				}
				return []string{"${" + name + "}"}
			case "Fn::GetAtt":
				switch a := arg.(type) {
				case string:
					return []string{"${" + a + "}"}
				case []any:
					parts := values(a)
					return []string{"${" + strings.Join(parts, ".") + "}"}
				}
			case "Fn::Sub":
				switch a := arg.(type) {
				case string:
					return []string{a}
				case []any:
					if len(a) == 2 {
						text, _ := a[0].(string)
						vars, _ := a[1].(map[string]any)
						for name, val := range vars {
							if vs := values(val); len(vs) == 1 {
								text = strings.ReplaceAll(text, "${"+name+"}", vs[0])
							}
						}
						return []string{text}
					}
				}
			case "Fn::If":
				if a, ok := arg.([]any); ok && len(a) == 3 {
					return append(values(a[1]), values(a[2])...)
				}
			case "Fn::Join":
				if a, ok := arg.([]any); ok && len(a) == 2 {
					if sep, ok := a[0].(string); ok {
						return []string{strings.Join(values(a[1]), sep)}
					}
				}
			case "Fn::Split":
				if a, ok := arg.([]any); ok && len(a) == 2 {
					sep, _ := a[0].(string)
					if src := values(a[1]); sep != "" && len(src) == 1 {
						return strings.Split(src[0], sep)
					}
				}
			}
		}
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}

// statements returns the statements of a policy document (one or a list).
func statements(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	switch st := d["Statement"].(type) {
	case map[string]any:
		return []map[string]any{st}
	case []any:
		var out []map[string]any
		for _, s := range st {
			if m, ok := s.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// policyDoc is one identity policy document and where it is.
type policyDoc struct {
	where string
	doc   any
}

// rolePolicies returns the inline policies of the role roleID.
func rolePolicies(tmpl cfnTemplate, roleID string) []policyDoc {
	var out []policyDoc
	policies, _ := tmpl.Resources[roleID].Properties["Policies"].([]any)
	for i, p := range policies {
		pm, _ := p.(map[string]any)
		name := fmt.Sprint(pm["PolicyName"])
		if name == "<nil>" {
			name = fmt.Sprint(i)
		}
		out = append(out, policyDoc{where: roleID + " policy " + name, doc: pm["PolicyDocument"]})
	}
	return out
}

// policyDocuments returns every identity policy document of the template:
// roles' inline policies and IAM policy resources.
func policyDocuments(tmpl cfnTemplate) []policyDoc {
	var out []policyDoc
	for _, id := range sortedKeys(tmpl.Resources) {
		r := tmpl.Resources[id]
		switch r.Type {
		case "AWS::IAM::Role":
			out = append(out, rolePolicies(tmpl, id)...)
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy":
			out = append(out, policyDoc{where: id, doc: r.Properties["PolicyDocument"]})
		}
	}
	return out
}

func statementName(where string, i int, st map[string]any) string {
	if sid, ok := st["Sid"].(string); ok {
		return fmt.Sprintf("%s statement %s", where, sid)
	}
	return fmt.Sprintf("%s statement %d", where, i)
}

// grants expands the Allow statements of docs into action×resource pairs.
func grants(docs []policyDoc) []grant {
	var out []grant
	for _, d := range docs {
		for i, st := range statements(d.doc) {
			if st["Effect"] != "Allow" {
				continue
			}
			where := statementName(d.where, i, st)
			var regions []string
			if cond, ok := st["Condition"].(map[string]any); ok {
				if eq, ok := cond["StringEquals"].(map[string]any); ok {
					regions = values(eq["aws:RequestedRegion"])
				}
			}
			for _, a := range values(st["Action"]) {
				for _, r := range values(st["Resource"]) {
					out = append(out, grant{Where: where, Action: a, Resource: r, Regions: regions})
				}
			}
		}
	}
	return out
}

var serviceWildcard = regexp.MustCompile(`^[A-Za-z0-9-]+:\*$`)

// wildcardFindings reports statements that allow too much at once: every
// action ("*"), every action of a service ("s3:*"), NotAction/NotResource,
// a wildcard action on Resource "*", and any action on Resource "*" that is
// not in unscopable (actions without resource-level permissions, each with
// the reason why).
func wildcardFindings(tmpl cfnTemplate, unscopable map[string]string) []string {
	var out []string
	for _, d := range policyDocuments(tmpl) {
		for i, st := range statements(d.doc) {
			if st["Effect"] != "Allow" {
				continue
			}
			where := statementName(d.where, i, st)
			for _, key := range []string{"NotAction", "NotResource"} {
				if _, ok := st[key]; ok {
					out = append(out, fmt.Sprintf("%s: Allow with %s allows everything not listed", where, key))
				}
			}
			onEveryResource := slices.Contains(values(st["Resource"]), "*")
			for _, a := range values(st["Action"]) {
				switch {
				case a == "*" || serviceWildcard.MatchString(a):
					out = append(out, fmt.Sprintf("%s: action %q allows every action of a service", where, a))
				case onEveryResource && strings.ContainsAny(a, "*?"):
					out = append(out, fmt.Sprintf(`%s: wildcard action %q on Resource "*"`, where, a))
				case onEveryResource && unscopable[a] == "":
					out = append(out, fmt.Sprintf(`%s: action %q on Resource "*" is not one that IAM cannot scope; name its resources`, where, a))
				}
			}
		}
	}
	return out
}

// globMatch reports whether s matches the IAM pattern (* any run of
// characters, ? one character); IAM compares actions case-insensitively,
// so callers lower-case actions first.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// allows reports whether gs allow action on resource ("" = on anything).
func allows(gs []grant, action, resource string) bool {
	return slices.ContainsFunc(gs, func(g grant) bool {
		return globMatch(strings.ToLower(g.Action), strings.ToLower(action)) &&
			(resource == "" || globMatch(g.Resource, resource))
	})
}

// missingGrants lists the actions gs do not allow on resourceFor(action).
func missingGrants(gs []grant, actions []string, resourceFor func(action string) string) []string {
	var out []string
	for _, a := range actions {
		if r := resourceFor(a); !allows(gs, a, r) {
			if r == "" {
				r = "any resource"
			}
			out = append(out, fmt.Sprintf("%s on %s", a, r))
		}
	}
	return out
}

// grantFindings compares what a role grants (gs) with what its function
// needs (action → resource, "" = any): a needed action not granted on its
// resource, and a granted action the function does not need.
func grantFindings(fn string, gs []grant, needs map[string]codeAction) []string {
	var out []string
	for _, a := range sortedKeys(needs) {
		for _, m := range missingGrants(gs, []string{a}, func(string) string { return needs[a].resource }) {
			out = append(out, fmt.Sprintf("%s: needs %s, not granted", fn, m))
		}
	}
	seen := map[string]bool{}
	for _, g := range gs {
		needed := slices.ContainsFunc(sortedKeys(needs), func(a string) bool { return strings.EqualFold(a, g.Action) })
		if !needed && !seen[g.Action] {
			seen[g.Action] = true
			out = append(out, fmt.Sprintf("%s: %s grants %s, which the function never calls: remove it", fn, g.Where, g.Action))
		}
	}
	return out
}

// isS3Read: S3 actions that only read (Get*, List*); everything else writes.
func isS3Read(action string) bool {
	a := strings.ToLower(action)
	return strings.HasPrefix(a, "s3:get") || strings.HasPrefix(a, "s3:list")
}

// writesOnEveryBucket reports S3 writes allowed on any bucket (a source):
// the source is only ever read.
func writesOnEveryBucket(gs []grant) []string {
	var out []string
	for _, g := range gs {
		if strings.HasPrefix(strings.ToLower(g.Action), "s3:") && !isS3Read(g.Action) && globMatch(g.Resource, anyBucket) {
			out = append(out, fmt.Sprintf("%s: %s on %s allows writing to source buckets", g.Where, g.Action, g.Resource))
		}
	}
	return out
}

// ownBucketPrefix is how every resource of an S3 write must start: the
// buckets bucketmirror creates all carry the name prefix.
const ownBucketPrefix = "arn:${AWS::Partition}:s3:::${DestinationNamePrefix}"

// outsideOwnBuckets reports S3 actions that are not Get* reads granted on
// anything but bucketmirror's own buckets (a resource not starting with
// ownBucketPrefix: "*-us-west-2" matches any bucket of that name), and S3
// writes not limited to the destination Regions (regions) by an
// aws:RequestedRegion condition. s3:ListBucket counts as a write here: it
// lists a bucket's object keys.
// sweepBucketObjects are the objects of the full sweep's manifest bucket.
const sweepBucketObjects = "arn:${AWS::Partition}:s3:::${SweepBucket}/"

func outsideOwnBuckets(gs []grant, regions []string) []string {
	var out []string
	for _, g := range gs {
		a := strings.ToLower(g.Action)
		if !strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "s3:get") || a == "s3:listallmybuckets" {
			continue
		}
		if strings.HasPrefix(g.Resource, sweepBucketObjects) {
			// Objects of the template's own sweep bucket (its name carries
			// the prefix, TestSweepStepsLeastPrivilege checks it), in the
			// stack's Region: the manifests, not a bucket's configuration.
			continue
		}
		if !strings.HasPrefix(g.Resource, ownBucketPrefix) {
			out = append(out, fmt.Sprintf("%s: %s on %s reaches buckets that are not bucketmirror's (want %s...)", g.Where, g.Action, g.Resource, ownBucketPrefix))
		}
		if !strings.HasPrefix(a, "s3:list") && !slices.Equal(g.Regions, regions) {
			out = append(out, fmt.Sprintf("%s: %s is allowed in Regions %v, want a StringEquals aws:RequestedRegion condition of the destination Regions %v",
				g.Where, g.Action, g.Regions, regions))
		}
	}
	return out
}

// functionSettingFindings reports functions without an explicit Timeout,
// MemorySize or Architectures (exactly [arch], what the Makefile builds), and
// SAM functions not built by the Makefile.
func functionSettingFindings(tmpl cfnTemplate, arch string) []string {
	var out []string
	for _, id := range sortedKeys(tmpl.Resources) {
		r := tmpl.Resources[id]
		if r.Type != "AWS::Serverless::Function" && r.Type != "AWS::Lambda::Function" {
			continue
		}
		for _, key := range []string{"Timeout", "MemorySize"} {
			if n, ok := r.Properties[key].(float64); !ok || n <= 0 {
				out = append(out, fmt.Sprintf("%s: no explicit %s (got %v)", id, key, r.Properties[key]))
			}
		}
		if got := values(r.Properties["Architectures"]); !slices.Equal(got, []string{arch}) {
			out = append(out, fmt.Sprintf("%s: Architectures must be [%s], what the Makefile builds (got %v)", id, arch, got))
		}
		if r.Type == "AWS::Serverless::Function" && r.Metadata["BuildMethod"] != "makefile" {
			out = append(out, fmt.Sprintf("%s: Metadata.BuildMethod must be makefile (got %v)", id, r.Metadata["BuildMethod"]))
		}
	}
	return out
}

// substitutionFindings compares the ${...} names of a state machine
// definition with its DefinitionSubstitutions: both a name without a value
// and a value no name uses are reported.
func substitutionFindings(placeholders []string, subs map[string]any) []string {
	var out []string
	for _, name := range placeholders {
		if _, ok := subs[name]; !ok {
			out = append(out, fmt.Sprintf("${%s} has no DefinitionSubstitutions entry", name))
		}
	}
	for _, name := range sortedKeys(subs) {
		if !slices.Contains(placeholders, name) {
			out = append(out, fmt.Sprintf("DefinitionSubstitutions.%s is not used by the definition", name))
		}
	}
	return out
}

var anyPlaceholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// unsubstitutable reports the ${...} in the strings of a decoded ASL
// definition that are not among placeholders (what DefinitionSubstitutions
// replaces). Comment fields are documentation and are skipped.
func unsubstitutable(asl any, placeholders []string) []string {
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			for _, m := range anyPlaceholder.FindAllStringSubmatch(v, -1) {
				if !slices.Contains(placeholders, m[1]) {
					out = append(out, fmt.Sprintf("%s: %s is not a substitutable ${Name}", path, m[0]))
				}
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case map[string]any:
			for _, k := range sortedKeys(v) {
				if k != "Comment" {
					walk(path+"."+k, v[k])
				}
			}
		}
	}
	walk("$", asl)
	return out
}

// taskNeed is a permission a Task state needs from the state machine's role.
type taskNeed struct {
	State, Action, Resource string
}

var wholePlaceholder = regexp.MustCompile(`^\$\{([A-Za-z0-9_]+)\}$`)

// taskNeeds lists what the Task states of an ASL definition need: Lambda
// tasks (a ${Name} substituted with a function's Arn) need
// lambda:InvokeFunction on it, DynamoDB integrations the item action on the
// table their TableName names. A Task the check does not understand is a
// finding, so a new kind of Task cannot slip through unchecked.
func taskNeeds(asl map[string]any, subs map[string]any, tmpl cfnTemplate) (needs []taskNeed, findings []string) {
	sub := func(text string) (string, bool) {
		m := wholePlaceholder.FindStringSubmatch(text)
		if m == nil {
			return "", false
		}
		vs := values(subs[m[1]])
		if len(vs) != 1 {
			return "", false
		}
		return vs[0], true
	}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for _, name := range sortedKeys(states) {
			st, _ := states[name].(map[string]any)
			for _, key := range []string{"Iterator", "ItemProcessor"} {
				if inner, ok := st[key].(map[string]any); ok {
					m, _ := inner["States"].(map[string]any)
					walk(m)
				}
			}
			if branches, ok := st["Branches"].([]any); ok {
				for _, b := range branches {
					bm, _ := b.(map[string]any)
					m, _ := bm["States"].(map[string]any)
					walk(m)
				}
			}
			if st["Type"] != "Task" {
				continue
			}
			res, _ := st["Resource"].(string)
			params, _ := st["Parameters"].(map[string]any)
			switch {
			case wholePlaceholder.MatchString(res):
				v, ok := sub(res)
				fn := strings.TrimSuffix(strings.TrimPrefix(v, "${"), ".Arn}")
				if !ok || !strings.HasSuffix(v, ".Arn}") || tmpl.Resources[fn].Type != "AWS::Lambda::Function" {
					findings = append(findings, fmt.Sprintf("Task %s: %s is not substituted with a function's Arn (got %q)", name, res, v))
					continue
				}
				needs = append(needs, taskNeed{State: name, Action: "lambda:InvokeFunction", Resource: v})
			case strings.HasPrefix(res, "arn:aws:states:::dynamodb:"):
				op := strings.TrimPrefix(res, "arn:aws:states:::dynamodb:")
				table, _ := params["TableName"].(string)
				v, ok := sub(table)
				if !ok || op == "" {
					findings = append(findings, fmt.Sprintf("Task %s: TableName %q is not a substituted table", name, table))
					continue
				}
				needs = append(needs, taskNeed{State: name, Action: "dynamodb:" + strings.ToUpper(op[:1]) + op[1:],
					Resource: strings.TrimSuffix(v, "}") + ".Arn}"})
			case res == "arn:aws:states:::events:putEvents":
				entries, _ := params["Entries"].([]any)
				if len(entries) == 0 {
					findings = append(findings, fmt.Sprintf("Task %s: putEvents without Entries", name))
					continue
				}
				for _, e := range entries {
					entry, _ := e.(map[string]any)
					bus, _ := entry["EventBusName"].(string)
					v, ok := sub(bus)
					if !ok {
						findings = append(findings, fmt.Sprintf("Task %s: EventBusName %q is not a substituted bus name", name, bus))
						continue
					}
					needs = append(needs, taskNeed{State: name, Action: "events:PutEvents",
						Resource: "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/" + v})
				}
			default:
				findings = append(findings, fmt.Sprintf("Task %s: resource %q: this check does not know which permission it needs; teach taskNeeds", name, res))
			}
		}
	}
	states, _ := asl["States"].(map[string]any)
	walk(states)
	return needs, findings
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// retrier is one Retry entry of an ASL Task, with the ASL defaults filled in
// (MaxAttempts 3, IntervalSeconds 1, BackoffRate 2).
type retrier struct {
	MaxAttempts     float64
	IntervalSeconds float64
	BackoffRate     float64
	MaxDelaySeconds float64 // 0 = no cap
}

func retriers(st map[string]any) []retrier {
	var out []retrier
	list, _ := st["Retry"].([]any)
	for _, r := range list {
		m, _ := r.(map[string]any)
		rt := retrier{MaxAttempts: 3, IntervalSeconds: 1, BackoffRate: 2}
		if v, ok := m["MaxAttempts"].(float64); ok {
			rt.MaxAttempts = v
		}
		if v, ok := m["IntervalSeconds"].(float64); ok {
			rt.IntervalSeconds = v
		}
		if v, ok := m["BackoffRate"].(float64); ok {
			rt.BackoffRate = v
		}
		if v, ok := m["MaxDelaySeconds"].(float64); ok {
			rt.MaxDelaySeconds = v
		}
		out = append(out, rt)
	}
	return out
}

// taskWorstCase is the longest a Task state can take: every retrier can
// use all its attempts (each has its own counter), each attempt running to
// the attempt's timeout, plus every retry interval (IntervalSeconds ×
// BackoffRate^n, capped by MaxDelaySeconds; jitter only shortens them).
func taskWorstCase(attemptSeconds float64, rs []retrier) float64 {
	total := attemptSeconds
	for _, r := range rs {
		delay := r.IntervalSeconds
		for range int(r.MaxAttempts) {
			d := delay
			if r.MaxDelaySeconds > 0 {
				d = min(d, r.MaxDelaySeconds)
			}
			total += attemptSeconds + d
			delay *= r.BackoffRate
		}
	}
	return total
}

// worstCasePath walks an ASL definition's states from StartAt and returns
// the longest time any path to a terminal state can take, and that path.
// attempt gives each Task's time per attempt (findings when unknown: a
// Task without TimeoutSeconds runs for up to a year). Loops are findings.
func worstCasePath(asl map[string]any, attempt func(name string, st map[string]any) (float64, string)) (float64, []string, []string) {
	states, _ := asl["States"].(map[string]any)
	var findings []string
	type result struct {
		seconds float64
		path    []string
	}
	memo := map[string]result{}
	visiting := map[string]bool{}
	var walk func(name string) result
	walk = func(name string) result {
		if r, ok := memo[name]; ok {
			return r
		}
		if visiting[name] {
			findings = append(findings, fmt.Sprintf("state %s is part of a loop: the worst case is unbounded", name))
			return result{}
		}
		visiting[name] = true
		defer delete(visiting, name)
		st, ok := states[name].(map[string]any)
		if !ok {
			findings = append(findings, fmt.Sprintf("state %s does not exist", name))
			return result{}
		}
		own := 0.0
		if st["Type"] == "Task" {
			seconds, why := attempt(name, st)
			if why != "" {
				findings = append(findings, fmt.Sprintf("Task %s: %s", name, why))
			}
			own = taskWorstCase(seconds, retriers(st))
		}
		var next []string
		if n, ok := st["Next"].(string); ok {
			next = append(next, n)
		}
		if n, ok := st["Default"].(string); ok {
			next = append(next, n)
		}
		for _, key := range []string{"Choices", "Catch"} {
			list, _ := st[key].([]any)
			for _, c := range list {
				cm, _ := c.(map[string]any)
				if n, ok := cm["Next"].(string); ok {
					next = append(next, n)
				}
			}
		}
		best := result{}
		for _, n := range next {
			if r := walk(n); best.path == nil || r.seconds > best.seconds {
				best = r
			}
		}
		r := result{seconds: own + best.seconds, path: append([]string{name}, best.path...)}
		memo[name] = r
		return r
	}
	start, _ := asl["StartAt"].(string)
	r := walk(start)
	return r.seconds, r.path, findings
}
