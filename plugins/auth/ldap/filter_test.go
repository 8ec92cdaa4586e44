package ldap

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"pgregory.net/rapid"
)

// TestExpand_property: whatever bytes a login holds, the expanded filter
// parses to the template's shape, and the login is one assertion value,
// byte for byte: it can add no clause and no wildcard.
func TestExpand_property(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		login := string(rapid.OneOf(
			rapid.SliceOf(rapid.Byte()),
			rapid.SliceOf(rapid.SampledFrom([]byte(`()*\|&!=<>~{}login dn0`))),
		).Draw(t, "login"))
		dn := rapid.String().Draw(t, "dn")

		f, err := goldap.CompileFilter(expand(DefaultUserFilter, login, dn, 7))
		if err != nil {
			t.Fatalf("filter for %q does not parse: %v", login, err)
		}
		if f.Tag != goldap.FilterAnd || len(f.Children) != 2 {
			s, _ := goldap.DecompileFilter(f)
			t.Fatalf("filter for %q is not an AND of two: %s", login, s)
		}
		uid := f.Children[1]
		if uid.Tag != goldap.FilterEqualityMatch || len(uid.Children) != 2 {
			t.Fatalf("uid clause for %q is not an equality match (tag %d)", login, uid.Tag)
		}
		if got := uid.Children[1].Data.String(); got != login {
			t.Fatalf("assertion value %q, want the login %q", got, login)
		}

		g, err := goldap.CompileFilter(expand(DefaultGroupFilter, login, dn, 7))
		if err != nil {
			t.Fatalf("group filter for %q, %q does not parse: %v", login, dn, err)
		}
		if g.Tag != goldap.FilterOr || len(g.Children) != 2 {
			t.Fatalf("group filter for %q, %q changed shape", login, dn)
		}
		member := g.Children[1].Children[1]
		if got := member.Children[1].Data.String(); got != dn {
			t.Fatalf("member value %q, want the DN %q", got, dn)
		}
	})
}

func TestValidLogin(t *testing.T) {
	for _, ok := range []string{"alice", "ldap-(dave)*\\", "Émile", "a b"} {
		if err := validLogin(ok); err != nil {
			t.Errorf("validLogin(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00", "a\n", "\x7f", " a", "a ", "\xc3", string(make([]byte, MaxLoginLength+1))} {
		if validLogin(bad) == nil {
			t.Errorf("validLogin(%q) = nil, want an error", bad)
		}
	}
}
