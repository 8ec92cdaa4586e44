package redis_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/store/redis"
	"github.com/godocker/god/store/redis/redistest"
	"github.com/godocker/god/store/storetest"
)

// writeCerts writes a CA and a server certificate for 127.0.0.1 signed by
// it, as PEM files in dir.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must.NoError(t, err)
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		must.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	caKey := newKey()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "god test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	must.NoError(t, err)
	srvKey := newKey()
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	must.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	must.NoError(t, err)
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

func TestTLS(t *testing.T) {
	caFile, certFile, keyFile := writeCerts(t, t.TempDir())
	s := redistest.New(t, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")
	pem, err := os.ReadFile(caFile)
	must.NoError(t, err)
	roots := x509.NewCertPool()
	must.True(t, roots.AppendCertsFromPEM(pem))
	s.TLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	s.Start()
	ctx := t.Context()

	st, err := redis.Open(ctx, redis.Config{Address: s.Addr, TLS: true, TLSCAFile: caFile})
	must.NoError(t, err)
	j := storetest.NewJob(1000, 1)
	must.NoError(t, st.Create(ctx, j))
	got, err := st.Get(ctx, j.ID)
	must.NoError(t, err)
	storetest.RequireSameJob(t, j, got)
	must.NoError(t, st.Close())

	// The system roots do not know the test CA; plain TCP is refused.
	_, err = redis.Open(ctx, redis.Config{Address: s.Addr, TLS: true})
	must.ErrorContains(t, err, "certificate")
	_, err = redis.Open(ctx, redis.Config{Address: s.Addr})
	must.ErrorContains(t, err, "cannot reach Redis at "+s.Addr)

	_, err = redis.Open(ctx, redis.Config{Address: s.Addr, TLSCAFile: caFile})
	must.ErrorContains(t, err, "set tls = true")
	_, err = redis.Open(ctx, redis.Config{Address: s.Addr, TLS: true, TLSCAFile: keyFile})
	must.ErrorContains(t, err, "holds no PEM certificate")
}
