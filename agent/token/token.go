// Package token makes and checks the agent's bearer tokens: short-lived,
// HMAC-SHA256-signed claims naming a login, with an id so a token can be
// revoked before it expires. The key is shared by every agent of a site
// through the store.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// prefix marks and versions the token format.
const prefix = "god1."

// KeySize is the length of a signing key in bytes.
const KeySize = 32

// ErrInvalid is returned for a token that was not made with the key (or
// was changed); ErrExpired for one past its expiry.
var (
	ErrInvalid = errors.New("invalid token")
	ErrExpired = errors.New("token expired: log in again (god login)")
)

// Claims are what a token says.
type Claims struct {
	Login   string `json:"sub"`
	ID      string `json:"jti"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
}

// ExpiresAt is the expiry as a time.
func (c *Claims) ExpiresAt() time.Time { return time.Unix(c.Expires, 0) }

// Signer signs and verifies tokens with one key.
type Signer struct{ key []byte }

// NewKey returns a random signing key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails on Linux
	return k
}

// NewSigner returns a signer; the key must be KeySize bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("token signing key must be %d bytes, got %d", KeySize, len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Issue makes a token for login valid for ttl from now, with a new id.
func (s *Signer) Issue(login string, now time.Time, ttl time.Duration) (string, *Claims) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	c := &Claims{Login: login, ID: hex.EncodeToString(id), Issued: now.Unix(), Expires: now.Add(ttl).Unix()}
	return s.Sign(c), c
}

// Sign encodes and signs c.
func (s *Signer) Sign(c *Claims) string { return s.seal(prefix, c) }

// Verify checks a token's signature and expiry at now and returns its
// claims. The signature is checked before anything in the token is read.
func (s *Signer) Verify(tok string, now time.Time) (*Claims, error) {
	var c Claims
	if err := s.open(prefix, tok, &c); err != nil || c.Login == "" || c.ID == "" {
		return nil, ErrInvalid
	}
	if now.Unix() >= c.Expires {
		return nil, ErrExpired
	}
	return &c, nil
}

// seal encodes v as JSON after a format prefix and signs both: the prefix
// keeps one kind of signed value from passing for another.
func (s *Signer) seal(prefix string, v any) string {
	body, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return prefix + payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(prefix, payload))
}

// open checks a sealed value's prefix and signature, then decodes it into
// v; anything wrong is ErrInvalid.
func (s *Signer) open(prefix, sealed string, v any) error {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return ErrInvalid
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(prefix, payload)) {
		return ErrInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, v) != nil {
		return ErrInvalid
	}
	return nil
}

func (s *Signer) mac(prefix, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(prefix + payload))
	return m.Sum(nil)
}

// NewAPIKey returns a new API key: 160 random bits, so a fast hash is
// enough to store it (see HashAPIKey).
func NewAPIKey() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "godk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// HashAPIKey is what the agent stores of an API key.
func HashAPIKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// MatchAPIKey tells in constant time whether key hashes to hash.
func MatchAPIKey(key, hash string) bool {
	if hash == "" || key == "" {
		return false
	}
	return hmac.Equal([]byte(HashAPIKey(key)), []byte(hash))
}

// forwardPrefix marks and versions forwarded identities; it is part of
// what is signed, so a forwarded identity never verifies as a token nor a
// token as a forwarded identity.
const forwardPrefix = "godfwd1."

// Forwarded is what an agent that forwards a request to the leader vouches
// for: who the kernel said was at the other end of the connection it
// accepted, for which request, until when.
type Forwarded struct {
	UID     int    `json:"uid"`
	Known   bool   `json:"known"`
	Unix    bool   `json:"unix"`
	Remote  string `json:"remote"`
	Via     string `json:"via"` // the forwarding agent's name, for logs
	Method  string `json:"method"`
	Path    string `json:"path"`
	Expires int64  `json:"exp"` // unix milliseconds
}

// SignForwarded encodes and signs f.
func (s *Signer) SignForwarded(f *Forwarded) string { return s.seal(forwardPrefix, f) }

// VerifyForwarded checks a forwarded identity's signature, that it was made
// for this method and path, and that it has not expired.
func (s *Signer) VerifyForwarded(v, method, path string, now time.Time) (*Forwarded, error) {
	var f Forwarded
	if err := s.open(forwardPrefix, v, &f); err != nil || f.Method != method || f.Path != path {
		return nil, ErrInvalid
	}
	if now.UnixMilli() >= f.Expires {
		return nil, ErrExpired
	}
	return &f, nil
}
