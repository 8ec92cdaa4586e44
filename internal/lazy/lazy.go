// Package lazy defers package-level work to first use. Every CLI command
// runs the initialisation of every package linked into the god binary, the
// agent's included: a regexp compiled at package level costs each `god job
// status` its compile time and memory although only the agent matches it.
package lazy

import (
	"regexp"
	"sync"
)

// Regexp returns a function that compiles expr on its first call and then
// returns the same *regexp.Regexp. expr must be valid (as for MustCompile).
func Regexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
