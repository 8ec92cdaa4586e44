package lazy

import "testing"

func TestRegexp(t *testing.T) {
	re := Regexp(`^[a-z]+$`)
	if re() != re() {
		t.Fatal("compiled twice")
	}
	if !re().MatchString("abc") || re().MatchString("a1") {
		t.Fatal("wrong match")
	}
}
