// Package identity tells the agent who is calling. On the Unix socket the
// kernel gives the caller's uid (SO_PEERCRED); on loopback TCP in dev mode the
// kernel's socket table does. The uid is then resolved through the system
// user database (NSS: files, LDAP via sssd...) to a name, groups and home.
package identity

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godocker/god/api"
)

type ctxKey struct{}

// Peer is the kernel-verified uid of a connection's other end.
type Peer struct {
	UID   int
	Known bool
	// Unix is set for connections on a Unix socket.
	Unix bool
}

// ConnContext is an http.Server ConnContext hook: it records who is at the
// other end of each accepted connection.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	_, unix := c.(*net.UnixConn)
	uid, err := PeerUID(c)
	if err != nil {
		return context.WithValue(ctx, ctxKey{}, Peer{Unix: unix})
	}
	return context.WithValue(ctx, ctxKey{}, Peer{UID: uid, Known: true, Unix: unix})
}

// FromContext returns the peer recorded by ConnContext.
func FromContext(ctx context.Context) Peer {
	p, _ := ctx.Value(ctxKey{}).(Peer)
	return p
}

// ErrUnknownPeer is returned when the kernel cannot tell who is calling.
var ErrUnknownPeer = errors.New("cannot identify the caller")

// PeerUID returns the uid of the process at the other end of c.
func PeerUID(c net.Conn) (int, error) {
	switch conn := c.(type) {
	case *net.UnixConn:
		raw, err := conn.SyscallConn()
		if err != nil {
			return 0, err
		}
		var cred *unix.Ucred
		var serr error
		if err := raw.Control(func(fd uintptr) {
			cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		}); err != nil {
			return 0, err
		}
		if serr != nil {
			return 0, serr
		}
		return int(cred.Uid), nil
	case *net.TCPConn:
		return loopbackTCPOwner(conn)
	}
	return 0, ErrUnknownPeer
}

// loopbackTCPOwner finds the uid owning the client end of a loopback TCP
// connection in /proc/net/tcp{,6}, as identd does. Only loopback peers are
// trusted: for them the kernel's table is authoritative.
func loopbackTCPOwner(c *net.TCPConn) (int, error) {
	remote, ok := c.RemoteAddr().(*net.TCPAddr)
	local, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok || !ok2 || !remote.IP.IsLoopback() {
		return 0, ErrUnknownPeer
	}
	// The client's socket has our remote address as its local address.
	want := fmt.Sprintf(":%04X", remote.Port)
	peer := fmt.Sprintf(":%04X", local.Port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 8 {
				continue
			}
			if strings.HasSuffix(fields[1], want) && strings.HasSuffix(fields[2], peer) {
				f.Close()
				return strconv.Atoi(fields[7])
			}
		}
		f.Close()
	}
	return 0, ErrUnknownPeer
}

// Lookup resolves a uid to the identity a job runs as: name, primary group,
// supplementary groups and home directory.
func Lookup(uid int) (api.User, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return api.User{}, fmt.Errorf("uid %d is not in the system user database: %w", uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return api.User{}, fmt.Errorf("user %s: invalid gid %q", u.Username, u.Gid)
	}
	out := api.User{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return api.User{}, fmt.Errorf("user %s: listing groups: %w", u.Username, err)
	}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err == nil && n != gid {
			out.Groups = append(out.Groups, n)
		}
	}
	sort.Ints(out.Groups)
	return out, nil
}

// GroupName returns the name of a group id, or "" if it has none.
func GroupName(gid int) string {
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		return ""
	}
	return g.Name
}

// GroupID returns the gid of a group name.
func GroupID(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// Cache remembers lookups for a while: the user database (often LDAP behind
// NSS) is too slow to ask on every request.
type Cache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[int]cached
}

type cached struct {
	u   api.User
	err error
	at  time.Time
}

// NewCache returns a cache whose entries live for ttl.
func NewCache(ttl time.Duration) *Cache { return &Cache{ttl: ttl, m: map[int]cached{}} }

// Lookup is Lookup through the cache.
func (c *Cache) Lookup(uid int) (api.User, error) {
	c.mu.Lock()
	e, ok := c.m[uid]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.u, e.err
	}
	u, err := Lookup(uid)
	c.mu.Lock()
	c.m[uid] = cached{u: u, err: err, at: time.Now()}
	c.mu.Unlock()
	return u, err
}
