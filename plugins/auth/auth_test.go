package auth

import (
	"strings"
	"testing"
)

func TestCheckLogin(t *testing.T) {
	for _, ok := range []string{"alice", "guest:abc", "John Smith", "DOMAIN\\bob", strings.Repeat("x", MaxLoginLength)} {
		if err := CheckLogin(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00", "a\nb", "\x7f", "\xff\xfe", strings.Repeat("x", MaxLoginLength+1)} {
		if CheckLogin(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
