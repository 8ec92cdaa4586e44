package oidc

import (
	"regexp"
	"strings"
	"testing"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"
)

// unixName is the widest name shadow-utils' useradd accepts (it also allows
// a trailing $ for machine accounts). Every Unix login lacks ':', the field
// separator of /etc/passwd.
var unixName = regexp.MustCompile(`^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*\$?$`)

var homeIDForm = regexp.MustCompile(`^[a-z2-7]{16}$`)

func TestGuestLoginForm(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := &Claims{
			Issuer:  rapid.String().Draw(t, "issuer"),
			Subject: rapid.String().Draw(t, "subject"),
			Email:   rapid.String().Draw(t, "email"),
			Name:    rapid.String().Draw(t, "name"),
		}
		login, homeID := GuestLogin(c)
		must.EqOp(t, GuestPrefix+homeID, login)
		must.True(t, IsGuestLogin(login))
		must.RegexMatch(t, homeIDForm, homeID)
		must.StrContains(t, login, ":")
		must.False(t, unixName.MatchString(login))

		// Stable: only issuer and subject count.
		again, againHome := GuestLogin(&Claims{Issuer: c.Issuer, Subject: c.Subject, Email: "changed@example.org"})
		must.EqOp(t, login, again)
		must.EqOp(t, homeID, againHome)
	})
}

func TestGuestLoginDistinct(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := &Claims{Issuer: rapid.String().Draw(t, "issuerA"), Subject: rapid.String().Draw(t, "subjectA")}
		b := &Claims{Issuer: rapid.String().Draw(t, "issuerB"), Subject: rapid.String().Draw(t, "subjectB")}
		if a.Issuer == b.Issuer && a.Subject == b.Subject {
			t.Skip("same account")
		}
		la, ha := GuestLogin(a)
		lb, hb := GuestLogin(b)
		must.NotEq(t, la, lb)
		must.NotEq(t, ha, hb)
	})

	// Cases a careless concatenation would merge.
	pairs := [][2]*Claims{
		{{Issuer: "https://accounts.google.com", Subject: "42"}, {Issuer: "https://dex.example.org", Subject: "42"}},
		{{Issuer: "ab", Subject: "c"}, {Issuer: "a", Subject: "bc"}},
		{{Issuer: "a\x00", Subject: "b"}, {Issuer: "a", Subject: "\x00b"}},
		{{Issuer: "https://idp", Subject: "x"}, {Issuer: "https://idp", Subject: "X"}},
	}
	for _, p := range pairs {
		l0, _ := GuestLogin(p[0])
		l1, _ := GuestLogin(p[1])
		must.NotEq(t, l0, l1)
	}
}

// A known value pins the derivation: changing it would give every guest a
// new login and home directory.
func TestGuestLoginPinned(t *testing.T) {
	login, homeID := GuestLogin(&Claims{Issuer: "https://accounts.google.com", Subject: "108234"})
	must.EqOp(t, "guest:"+homeID, login)
	must.EqOp(t, pinnedHomeID, homeID)
	must.False(t, IsGuestLogin("alice"))
	must.False(t, strings.HasPrefix("alice", GuestPrefix))
}

const pinnedHomeID = "ylxelp6hoh4wqh3j"
