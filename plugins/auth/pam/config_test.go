package pam

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"
)

func TestValidLogin(t *testing.T) {
	for _, ok := range []string{"alice", "a", "jean.dupont", "ÿves", "user@EXAMPLE.ORG", "DOMAIN\\bob", strings.Repeat("x", MaxLoginLength)} {
		must.NoError(t, validLogin(ok), must.Sprintf("login %q", ok))
	}
	for _, bad := range []string{"", " alice", "alice ", "al ice", "al\tice", "al\x00ice", "al\nice", "al\u00a0ice", "al\u2028ice", "\xff\xfe", strings.Repeat("x", MaxLoginLength+1)} {
		must.Error(t, validLogin(bad), must.Sprintf("login %q", bad))
	}
}

// TestValidLogin_property: an accepted login is non-empty, short, UTF-8 and
// holds no control character and no space of any kind.
func TestValidLogin_property(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		login := rapid.OneOf(
			rapid.String(),
			rapid.StringOf(rapid.SampledFrom([]rune("ab. \t\x00\n\u00a0\u0085é"))),
			rapid.StringN(MaxLoginLength-2, MaxLoginLength+2, -1),
		).Draw(t, "login")
		if validLogin(login) != nil {
			return
		}
		if login == "" || len(login) > MaxLoginLength || !utf8.ValidString(login) || strings.ContainsRune(login, 0) ||
			strings.IndexFunc(login, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
			t.Fatalf("validLogin accepted %q", login)
		}
	})
}

func TestValidPassword(t *testing.T) {
	must.True(t, validPassword("s3cret with spaces"))
	must.True(t, validPassword(strings.Repeat("p", maxPasswordLength)))
	must.False(t, validPassword(""))
	must.False(t, validPassword("secret\x00junk"))
	must.False(t, validPassword(strings.Repeat("p", maxPasswordLength+1)))
}

func TestConfig_validate(t *testing.T) {
	dir := t.TempDir()
	must.NoError(t, os.WriteFile(filepath.Join(dir, "god"), []byte("auth required pam_permit.so\n"), 0o644))
	must.NoError(t, os.Mkdir(filepath.Join(dir, "adir"), 0o755))

	must.Eq(t, DefaultService, Config{}.withDefaults().Service)
	must.NoError(t, Config{ConfDir: dir}.withDefaults().validate())
	must.NoError(t, Config{Service: "god", ConfDir: dir}.validate())

	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Service: "missing", ConfDir: dir}, "has no file " + filepath.Join(dir, "missing") + ": create it"},
		{Config{Service: "adir", ConfDir: dir}, "is not a regular file"},
		{Config{Service: "../god", ConfDir: dir}, "is not a PAM service name"},
		{Config{Service: "..", ConfDir: dir}, "is not a PAM service name"},
		{Config{Service: "go d", ConfDir: dir}, "is not a PAM service name"},
		{Config{Service: "god", ConfDir: "relative/dir"}, "must be an absolute path"},
	} {
		err := tc.cfg.validate()
		must.ErrorContains(t, err, tc.want, must.Sprintf("config %+v", tc.cfg))
	}
}
