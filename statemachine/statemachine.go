// Package statemachine embeds the mirror workflow's Amazon States Language
// definition, so the CLI, the demo and the tests deploy exactly the file SAM
// deploys.
package statemachine

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

//go:embed mirror.asl.json
var definition string

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders lists the ${...} names the definition needs, sorted.
func Placeholders() []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(definition, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Definition returns the ASL with every ${NAME} replaced, as SAM's
// DefinitionSubstitutions do; a name without a value is an error.
func Definition(values map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(definition, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("state machine definition needs values for %s", strings.Join(slices.Compact(missing), ", "))
	}
	return out, nil
}
