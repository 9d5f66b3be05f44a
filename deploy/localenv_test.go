package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
)

// TestLocalStackEnvironment: the environment `make invoke` and its test
// give each function (localdeploy.FunctionEnv) names exactly the variables
// template.yaml sets on it, and a variable set from a parameter with a
// default has that default, so a function runs locally as deployed.
func TestLocalStackEnvironment(t *testing.T) {
	source, _ := loadTemplates(t)
	var globalVars map[string]any
	if fn, ok := source.Globals["Function"].(map[string]any); ok {
		if env, ok := fn["Environment"].(map[string]any); ok {
			globalVars, _ = env["Variables"].(map[string]any)
		}
	}
	ids := samFunctions(t, source)
	for fn, id := range localdeploy.Functions {
		if !slices.Contains(ids, id) {
			t.Errorf("localdeploy.Functions names %s for %s, which template.yaml does not have", id, fn)
		}
	}
	for _, id := range ids {
		fn := ""
		for name, logical := range localdeploy.Functions {
			if logical == id {
				fn = name
			}
		}
		if fn == "" {
			t.Errorf("template.yaml's %s is not in localdeploy.Functions", id)
			continue
		}
		want := map[string]any{}
		for k, v := range globalVars {
			want[k] = v
		}
		if env, ok := source.Resources[id].Properties["Environment"].(map[string]any); ok {
			vars, _ := env["Variables"].(map[string]any)
			for k, v := range vars {
				want[k] = v
			}
		}
		got := map[string]string{}
		for _, kv := range localdeploy.FunctionEnv(fn, "arn:aws:states:us-east-1:123456789012:stateMachine:bucketmirror-mirror") {
			name, value, _ := strings.Cut(kv, "=")
			got[name] = value
		}
		for _, name := range sortedKeys(want) {
			value, ok := got[name]
			if !ok {
				t.Errorf("%s (%s): template.yaml sets %s, the local stack does not", fn, id, name)
				continue
			}
			if param, ok := refParameter(want[name]); ok {
				p, _ := source.Parameters[param].(map[string]any)
				def, hasDefault := p["Default"]
				if hasDefault && fmt.Sprint(def) != value {
					t.Errorf("%s (%s): %s is %q locally, the default of parameter %s is %q", fn, id, name, value, param, fmt.Sprint(def))
				}
			}
		}
		for _, name := range sortedKeys(got) {
			if _, ok := want[name]; !ok {
				t.Errorf("%s (%s): the local stack sets %s, template.yaml does not", fn, id, name)
			}
		}
	}
}

// refParameter is the parameter a {"Ref": NAME} value names, if NAME is
// not a pseudo parameter or a resource.
func refParameter(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	name, ok := m["Ref"].(string)
	if !ok || strings.HasPrefix(name, "AWS::") {
		return "", false
	}
	return name, true
}
