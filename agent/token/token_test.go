package token_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/token"
)

func signer(t *testing.T) *token.Signer {
	s, err := token.NewSigner(token.NewKey())
	must.NoError(t, err)
	return s
}

func TestIssueVerify(t *testing.T) {
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	tok, c := s.Issue("alice", now, time.Hour)
	got, err := s.Verify(tok, now.Add(59*time.Minute))
	must.NoError(t, err)
	must.Eq(t, *c, *got)
	must.Eq(t, "alice", got.Login)
	_, err = s.Verify(tok, now.Add(time.Hour))
	must.ErrorIs(t, err, token.ErrExpired)
	tok2, c2 := s.Issue("alice", now, time.Hour)
	must.NotEq(t, tok, tok2)
	must.NotEq(t, c.ID, c2.ID)
}

// TestForged: tokens changed, made with another key, or malformed are
// refused, whatever they claim.
func TestForged(t *testing.T) {
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	tok, c := s.Issue("alice", now, time.Hour)
	other := signer(t)
	forgedClaims := *c
	forgedClaims.Login = "root"
	payload, _, _ := strings.Cut(strings.TrimPrefix(tok, "god1."), ".")
	sig := tok[strings.LastIndex(tok, ".")+1:]
	rootPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root","jti":"x","iat":1,"exp":9999999999}`))
	for name, bad := range map[string]string{
		"other key":         other.Sign(&forgedClaims),
		"claims swapped":    "god1." + rootPayload + "." + sig,
		"signature dropped": "god1." + payload,
		"empty signature":   "god1." + payload + ".",
		"no prefix":         strings.TrimPrefix(tok, "god1."),
		"empty":             "",
		"garbage":           "god1.%%%.%%%",
		"flipped bit":       tok[:len(tok)-2] + string(tok[len(tok)-2]^1) + tok[len(tok)-1:],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Verify(bad, now)
			must.ErrorIs(t, err, token.ErrInvalid)
		})
	}
	_, err := token.NewSigner([]byte("short"))
	must.Error(t, err)
}

func TestAPIKey(t *testing.T) {
	k := token.NewAPIKey()
	must.StrHasPrefix(t, "godk_", k)
	must.Greater(t, 30, len(k))
	h := token.HashAPIKey(k)
	must.True(t, token.MatchAPIKey(k, h))
	must.False(t, token.MatchAPIKey(k+"x", h))
	must.False(t, token.MatchAPIKey("", h))
	must.False(t, token.MatchAPIKey(k, ""))
	must.NotEq(t, k, token.NewAPIKey())
}

// TestForwarded: a forwarded identity verifies only with the key, for the
// request it was made for, before it expires; tokens and forwarded
// identities never stand for each other.
func TestForwarded(t *testing.T) {
	s := signer(t)
	now := time.Unix(1_800_000_000, 0)
	f := &token.Forwarded{UID: 23001, Known: true, Unix: true, Remote: "unix", Via: "god-2", Method: "POST", Path: "/v1/jobs", Expires: now.Add(30 * time.Second).UnixMilli()}
	v := s.SignForwarded(f)
	got, err := s.VerifyForwarded(v, "POST", "/v1/jobs", now)
	must.NoError(t, err)
	must.Eq(t, *f, *got)

	_, err = s.VerifyForwarded(v, "POST", "/v1/jobs", now.Add(30*time.Second))
	must.ErrorIs(t, err, token.ErrExpired)
	root := *f
	root.UID = 0
	tok, _ := s.Issue("alice", now, time.Hour)
	payload, _, _ := strings.Cut(strings.TrimPrefix(v, "godfwd1."), ".")
	sig := v[strings.LastIndex(v, ".")+1:]
	rootPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"uid":0,"known":true,"unix":true,"method":"POST","path":"/v1/jobs","exp":99999999999999}`))
	for name, bad := range map[string]struct{ v, method, path string }{
		"other key":    {signer(t).SignForwarded(&root), "POST", "/v1/jobs"},
		"uid swapped":  {"godfwd1." + rootPayload + "." + sig, "POST", "/v1/jobs"},
		"other method": {v, "DELETE", "/v1/jobs"},
		"other path":   {v, "POST", "/v1/job/1/kill"},
		"a token":      {tok, "POST", "/v1/jobs"},
		"no signature": {"godfwd1." + payload, "POST", "/v1/jobs"},
		"garbage":      {"godfwd1.%%.%%", "POST", "/v1/jobs"},
		"token prefix": {"god1." + strings.TrimPrefix(v, "godfwd1."), "POST", "/v1/jobs"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.VerifyForwarded(bad.v, bad.method, bad.path, now)
			must.ErrorIs(t, err, token.ErrInvalid)
		})
	}
	// A forwarded identity is not a token.
	_, err = s.Verify("god1."+strings.TrimPrefix(v, "godfwd1."), now)
	must.ErrorIs(t, err, token.ErrInvalid)
}
