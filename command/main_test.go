package command

import (
	"fmt"
	"os"
	"testing"
)

// TestMain keeps the tests away from the user's own agent settings and
// saved token: every test starts with an empty config directory of its
// own and neither GOD_ADDR nor GOD_TOKEN.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "god-command-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.Unsetenv("GOD_ADDR")
	os.Unsetenv("GOD_TOKEN")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
