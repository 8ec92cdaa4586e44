//go:build !failpoints

package failpoint

// Hit is where a failpoints build may crash; here it does nothing.
func Hit(string) {}
