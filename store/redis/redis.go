// Package redis is the shared job store: the jobs of one or several GoDocker
// agents kept in a Redis server. Durability is the server's: Open refuses a
// server that does not append every write to its AOF with fsync before
// replying (appendonly yes, appendfsync always), so a call that returns nil
// survives a crash of the server.
//
// Each write is one Lua script (atomic, and all-or-nothing in the AOF). Jobs
// are hashes holding the JSON record and the fields that the indexes mirror;
// List walks sorted-set indexes (per state, user and array, and by end time)
// instead of every job. All keys start with a configurable prefix, so several
// installs can share one server:
//
//	<prefix>store          hash: id, legacy_max_job (the store's identity, store.Identity)
//	<prefix>next_id        string: the last id assigned
//	<prefix>epoch          string: the greatest leader epoch claimed (Fence)
//	<prefix>job:<id>       hash: v (version), uid, state, parent, ended (unix ns or ""), data (JSON), sk (submit key, if any)
//	<prefix>submit:<key>   string: the id of the job created with that submit key
//	<prefix>jobs           zset: every id, scored by id
//	<prefix>state:<state>  zset: ids in a primary state, scored by id
//	<prefix>uid:<uid>      zset: ids of a submitter, scored by id
//	<prefix>parent:<id>    zset: task ids of an array job, scored by id
//	<prefix>ended          zset: ids of ended jobs, scored by end time in unix seconds
//
// Records (users, projects...) and the audit log (records.go):
//
//	<prefix>rec:<kind>:<key>       hash: v (version), data
//	<prefix>recs:<kind>            zset: the kind's keys, all scored 0 (so by key)
//	<prefix>audit:next_id          string: the last audit id assigned
//	<prefix>audit:entries          hash: audit id -> the entry as JSON
//	<prefix>audit:ids              zset: every audit id, scored by id
//	<prefix>audit:time             zset: audit ids, scored by time in unix seconds
//	<prefix>audit:actor:<actor>    zset: audit ids of an actor, scored by id
//	<prefix>audit:action:<action>  zset: audit ids of an action, scored by id
//
// and the agent lock (lock.go): <prefix>agent:lock, a string with a TTL.
package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/godocker/god/job"
	"github.com/godocker/god/store"
)

// DefaultPrefix starts every key when Config.Prefix is empty.
const DefaultPrefix = "god:"

// maxEpoch is the greatest fencing epoch: the scripts compare epochs as Lua
// numbers, which are exact integers up to 2^53.
const maxEpoch = 1 << 53

// page is how many index entries or records List fetches per round trip.
const page = 512

// Config says how to reach the Redis server.
type Config struct {
	// Address is the server's host:port.
	Address string
	// Username and Password authenticate (AUTH); Username only with ACLs.
	Username string
	Password string
	// DB is the logical database number (SELECT).
	DB int
	// Prefix starts every key of this store; DefaultPrefix when empty.
	Prefix string
	// TLS connects with TLS, verifying the server's certificate against
	// TLSCAFile, or the system roots when it is empty.
	TLS       bool
	TLSCAFile string
	// AllowNonDurable opens a server that may lose acknowledged writes
	// (AOF off, not fsynced on every write, or evicting keys). For tests
	// and throwaway setups only.
	AllowNonDurable bool
}

// Store is the Redis implementation of store.Store, store.Records and
// store.Fencer.
type Store struct {
	client *goredis.Client
	addr   string
	prefix string
	// epoch fences the writes of a view made by Fence; 0: not fenced.
	epoch uint64
	// owner is set on the Store made by Open, which closes the client.
	owner  bool
	closed atomic.Bool
	ident  store.Identity
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Records = (*Store)(nil)
	_ store.Fencer  = (*Store)(nil)
)

var errClosed = errors.New("job store is closed")

// errExists is a create refused because its submit key is taken.
var errExists = errors.New("submit key taken")

// Open connects to the server and checks that it keeps writes durably.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Address == "" {
		return nil, errors.New(`redis store: address is required, e.g. address = "127.0.0.1:6379"`)
	}
	host, _, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("redis store: address %q must be host:port, e.g. 127.0.0.1:6379: %w", cfg.Address, err)
	}
	if cfg.DB < 0 {
		return nil, fmt.Errorf("redis store: db %d must be 0 or more", cfg.DB)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	opts := &goredis.Options{
		Addr:     cfg.Address,
		Username: cfg.Username,
		Password: cfg.Password,
		DB:       cfg.DB,
		// No automatic retry: a write whose reply was lost may have been
		// applied, and running it again would create a job twice.
		MaxRetries: -1,
		// Generous: a large array is one script, and a timeout after the
		// script ran would report failure for a stored write.
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		DisableIdentity: true,
		// Writes in flight at once share the server's fsync: allow many.
		PoolSize: 128,
	}
	if cfg.TLSCAFile != "" && !cfg.TLS {
		return nil, errors.New("redis store: tls_ca_file is set but tls is not: set tls = true")
	}
	if cfg.TLS {
		opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if cfg.TLSCAFile != "" {
			pem, err := os.ReadFile(cfg.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("redis store: reading tls_ca_file: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis store: tls_ca_file %s holds no PEM certificate", cfg.TLSCAFile)
			}
			opts.TLSConfig.RootCAs = roots
		}
	}
	s := &Store{client: goredis.NewClient(opts), addr: cfg.Address, prefix: cfg.Prefix, owner: true}
	if err := s.check(ctx, cfg); err != nil {
		s.client.Close()
		return nil, err
	}
	if err := s.loadIdentity(ctx); err != nil {
		s.client.Close()
		return nil, err
	}
	return s, nil
}

// loadIdentity reads the store's identity, giving it one if it has none.
func (s *Store) loadIdentity(ctx context.Context) error {
	vals, err := identityScript.Run(ctx, s.client, nil, s.prefix, store.NewID()).StringSlice()
	if err != nil {
		return fmt.Errorf("redis store: reading the store's identity: %w", err)
	}
	if len(vals) != 2 {
		return fmt.Errorf("redis store: reading the store's identity: got %q", vals)
	}
	s.ident.ID = vals[0]
	if s.ident.LegacyMaxJob, err = strconv.ParseInt(vals[1], 10, 64); err != nil {
		return fmt.Errorf("redis store: the store's legacy_max_job %q: %w", vals[1], err)
	}
	if err := s.ident.Check(); err != nil {
		return fmt.Errorf("redis store %s (prefix %q): %w", s.addr, s.prefix, err)
	}
	return nil
}

// Identity implements store.Identified.
func (s *Store) Identity() store.Identity { return s.ident }

// check verifies that the server answers, is recent enough, and (unless
// allowed otherwise) keeps every acknowledged write.
func (s *Store) check(ctx context.Context, cfg Config) error {
	// A server that has just restarted answers LOADING until it has read
	// its AOF back: wait for it, as long as ctx allows.
	err := s.client.Ping(ctx).Err()
	for err != nil && strings.HasPrefix(err.Error(), "LOADING") {
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis store: %s is still loading its data: %w", cfg.Address, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		err = s.client.Ping(ctx).Err()
	}
	if err != nil {
		if isAuthError(err) {
			return fmt.Errorf("redis store: %s refused the credentials: %w (check username and password)", cfg.Address, err)
		}
		return fmt.Errorf("redis store: cannot reach Redis at %s: %w (is redis-server running and listening there? check address, and tls if the server requires it)", cfg.Address, err)
	}
	info, err := s.client.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis store: INFO server at %s: %w", cfg.Address, err)
	}
	if v := infoField(info, "redis_version"); !atLeast(v, 6, 2) {
		return fmt.Errorf("redis store: %s runs Redis %q; the store needs 6.2 or later", cfg.Address, v)
	}
	if err := s.checkDurable(ctx); err != nil {
		if !cfg.AllowNonDurable {
			return fmt.Errorf("redis store: %s: %w; or set allow_non_durable to accept losing acknowledged jobs", cfg.Address, err)
		}
	}
	return nil
}

// durableConfig is the server configuration under which an acknowledged
// write is on disk: the AOF is on and fsynced before each reply.
var durableConfig = []struct{ name, want, fix string }{
	{"appendonly", "yes", "appendonly yes"},
	{"appendfsync", "always", "appendfsync always"},
}

func (s *Store) checkDurable(ctx context.Context) error {
	for _, c := range durableConfig {
		got, err := s.client.ConfigGet(ctx, c.name).Result()
		if err != nil {
			return fmt.Errorf("cannot read its %s setting (CONFIG GET %s: %v): make sure it has %q", c.name, c.name, err, c.fix)
		}
		if got[c.name] != c.want {
			return fmt.Errorf("it has %s %q, which can lose acknowledged writes: set %q in redis.conf (or CONFIG SET %s %s, then CONFIG REWRITE)", c.name, got[c.name], c.fix, c.name, c.want)
		}
	}
	// An allkeys-* policy evicts any key when memory is full, jobs included.
	// The others (noeviction, volatile-*) never evict keys without a TTL,
	// and only the agent lock has one (evicted, its holder stops).
	got, err := s.client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return fmt.Errorf("cannot read its maxmemory-policy (CONFIG GET maxmemory-policy: %v): make sure it is noeviction", err)
	}
	if p := got["maxmemory-policy"]; strings.HasPrefix(p, "allkeys-") {
		return fmt.Errorf("it has maxmemory-policy %q, which evicts jobs when memory is full: set \"maxmemory-policy noeviction\"", p)
	}
	return nil
}

func isAuthError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "invalid password") || strings.Contains(msg, "invalid username-password")
}

// infoField returns a field of an INFO reply ("name:value" lines).
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// atLeast reports whether version ("7.0.15") is major.minor or later.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

// Close closes the connection of a Store made by Open; a view made by Fence
// only stops working (the Store it came from keeps the connection).
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owner {
		return nil
	}
	return s.client.Close()
}

// Fence implements store.Fencer: it claims epoch (1 to 2^53) and returns a
// view of the same store whose writes fail with store.ErrFenced once a
// greater epoch is claimed.
func (s *Store) Fence(ctx context.Context, epoch uint64) (store.Store, error) {
	if epoch == 0 || epoch > maxEpoch {
		return nil, fmt.Errorf("redis store: fencing epoch %d out of range 1 to 2^53", epoch)
	}
	view := &Store{client: s.client, addr: s.addr, prefix: s.prefix, epoch: epoch, ident: s.ident}
	if _, err := view.write(ctx, fenceScript); err != nil {
		return nil, err
	}
	return view, nil
}

// write runs a write script with the prefix and epoch first in ARGV and
// returns its non-negative result.
func (s *Store) write(ctx context.Context, script *goredis.Script, args ...any) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	// A call whose context is already done must not write.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	argv := append([]any{s.prefix, strconv.FormatUint(s.epoch, 10)}, args...)
	n, err := script.Run(ctx, s.client, nil, argv...).Int64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("redis store: %w", err)
	case n == codeNotFound:
		return 0, store.ErrNotFound
	case n == codeConflict:
		return 0, store.ErrConflict
	case n == codeFenced:
		return 0, store.ErrFenced
	case n == codeNoRecord:
		return 0, store.ErrNoRecord
	case n == codeLocked:
		return 0, errLocked
	case n == codeExists:
		return 0, errExists
	}
	return n, nil
}

// fields are the script arguments of a job's record after its id: uid,
// state, ended, ended score, data.
func fields(j *job.Job) ([]any, error) {
	data, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	ended, score := "", ""
	if e := j.Dates.Ended; e != nil {
		ns := e.UnixNano()
		ended = strconv.FormatInt(ns, 10)
		// Whole seconds, rounded down, are exact as a float64 score;
		// List checks the nanoseconds.
		score = strconv.FormatInt(floorDiv(ns, int64(time.Second)), 10)
	}
	return []any{strconv.Itoa(j.User.UID), j.Status.Primary, ended, score, data}, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, j *job.Job) error {
	f, err := fields(j)
	if err != nil {
		return err
	}
	id, err := s.write(ctx, createScript, append([]any{strconv.FormatInt(j.ParentID, 10), j.SubmitKey}, f...)...)
	if err != nil {
		return s.duplicate(ctx, j.SubmitKey, err)
	}
	j.ID, j.Version = id, 1
	return nil
}

// duplicate turns a create refused for its submit key into a
// *store.DuplicateError naming the job that has the key.
func (s *Store) duplicate(ctx context.Context, key string, err error) error {
	if !errors.Is(err, errExists) {
		return err
	}
	id, gerr := s.client.Get(ctx, s.prefix+"submit:"+key).Int64()
	if gerr != nil {
		// Deleted meanwhile: the caller may try again.
		return fmt.Errorf("redis store: job with submit key %q: %w", key, gerr)
	}
	return &store.DuplicateError{ID: id}
}

// GetBySubmitKey implements store.Store.
func (s *Store) GetBySubmitKey(ctx context.Context, key string) (*job.Job, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	id, err := s.client.Get(ctx, s.prefix+"submit:"+key).Int64()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	return s.Get(ctx, id)
}

// CreateArray implements store.Store with one script: the parent and its
// tasks get consecutive ids and are stored together or not at all. A task's
// parent id is kept beside its record (the parent field), which is where
// reads take it from. The caller's jobs change only on success.
func (s *Store) CreateArray(ctx context.Context, parent *job.Job, tasks []*job.Job) error {
	args := []any{strconv.FormatInt(parent.ParentID, 10), parent.SubmitKey}
	for i, j := range append([]*job.Job{parent}, tasks...) {
		f, err := fields(j)
		if err != nil {
			if i == 0 {
				return err
			}
			return fmt.Errorf("task %d: %w", i-1, err)
		}
		args = append(args, f...)
	}
	pid, err := s.write(ctx, createScript, args...)
	if err != nil {
		return s.duplicate(ctx, parent.SubmitKey, err)
	}
	parent.ID, parent.Version = pid, 1
	for i, t := range tasks {
		t.ID, t.Version, t.ParentID = pid+1+int64(i), 1, pid
	}
	return nil
}

// Update implements store.Store: compare-and-swap on Version.
func (s *Store) Update(ctx context.Context, j *job.Job) error {
	f, err := fields(j)
	if err != nil {
		return err
	}
	// The script wants uid, state, parent, ended, score, data.
	args := []any{strconv.FormatInt(j.ID, 10), strconv.FormatInt(j.Version, 10), f[0], f[1], strconv.FormatInt(j.ParentID, 10), f[2], f[3], f[4]}
	v, err := s.write(ctx, updateScript, args...)
	if err != nil {
		return err
	}
	j.Version = v
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, id int64) error {
	_, err := s.write(ctx, deleteScript, strconv.FormatInt(id, 10))
	return err
}

// recordFields are the hash fields a read fetches, in the order record uses.
var recordFields = []string{"v", "uid", "state", "parent", "ended", "data"}

// record is a job's hash as read, before decoding.
type record struct {
	id                               int64
	version, uid, state, parent, end string
	data                             string
	missing                          bool
}

func newRecord(id int64, vals []any) record {
	r := record{id: id, missing: vals[0] == nil}
	if r.missing {
		return r
	}
	str := func(i int) string { s, _ := vals[i].(string); return s }
	r.version, r.uid, r.state, r.parent, r.end = str(0), str(1), str(2), str(3), str(4)
	if len(vals) > 5 {
		r.data = str(5)
	}
	return r
}

// decode returns the job; ID, Version and ParentID come from the hash.
func (r record) decode() (*job.Job, error) {
	var j job.Job
	if err := json.Unmarshal([]byte(r.data), &j); err != nil {
		return nil, fmt.Errorf("redis store: decoding job %d: %w", r.id, err)
	}
	var err1, err2 error
	j.ID = r.id
	j.Version, err1 = strconv.ParseInt(r.version, 10, 64)
	j.ParentID, err2 = strconv.ParseInt(r.parent, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("redis store: decoding job %d: %w", r.id, err)
	}
	return &j, nil
}

// matches reports whether the record passes every condition of f.
func (r record) matches(f store.Filter) bool {
	if r.missing {
		return false
	}
	if f.UID != nil && r.uid != strconv.Itoa(*f.UID) {
		return false
	}
	if len(f.States) > 0 && !slices.Contains(f.States, r.state) {
		return false
	}
	if f.ParentID != 0 && r.parent != strconv.FormatInt(f.ParentID, 10) {
		return false
	}
	if !f.EndedBefore.IsZero() {
		ns, err := strconv.ParseInt(r.end, 10, 64)
		if err != nil || ns >= f.EndedBefore.UnixNano() {
			return false
		}
	}
	return f.BeforeID == 0 || r.id < f.BeforeID
}

func (s *Store) key(parts ...string) string { return s.prefix + strings.Join(parts, ":") }

func (s *Store) jobKey(id int64) string { return s.key("job", strconv.FormatInt(id, 10)) }

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id int64) (*job.Job, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	vals, err := s.client.HMGet(ctx, s.jobKey(id), recordFields...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	r := newRecord(id, vals)
	if r.missing {
		return nil, store.ErrNotFound
	}
	return r.decode()
}

// read fetches the named fields of the records of ids in one round trip.
func (s *Store) read(ctx context.Context, ids []int64, fields []string) ([]record, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.jobKey(id), fields...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	out := make([]record, len(ids))
	for i, c := range cmds {
		out[i] = newRecord(ids[i], c.Val())
	}
	return out, nil
}

// List implements store.Store. It picks one index to walk (the array's
// tasks, else the user's jobs, else the ended index, else the states', else
// every job), below f.BeforeID when set, checks the other conditions on each
// job's indexed fields, and only then reads the records. A job changed
// while listing is listed as it is when its record is read, if it still
// matches.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*job.Job, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var ids []int64
	var err error
	if f.ParentID == 0 && f.UID == nil && !f.EndedBefore.IsZero() {
		ids, err = s.endedIDs(ctx, f)
	} else {
		ids, err = s.indexedIDs(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	var out []*job.Job
	for chunk := range slices.Chunk(ids, page) {
		recs, err := s.read(ctx, chunk, recordFields)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if !r.matches(f) {
				continue // deleted or changed since its index entry was read
			}
			j, err := r.decode()
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
	}
	return out, nil
}

// indexedIDs returns the ids matching f, in f's order and limit, walking the
// id-scored index that f narrows most: one per state when f lists states.
func (s *Store) indexedIDs(ctx context.Context, f store.Filter) ([]int64, error) {
	var keys []string
	// exact: the index alone selects what f does, so no job needs checking.
	exact := f.EndedBefore.IsZero()
	switch {
	case f.ParentID != 0:
		keys = []string{s.key("parent", strconv.FormatInt(f.ParentID, 10))}
		exact = exact && f.UID == nil && len(f.States) == 0
	case f.UID != nil:
		keys = []string{s.key("uid", strconv.Itoa(*f.UID))}
		exact = exact && len(f.States) == 0
	case len(f.States) > 0:
		for _, st := range f.States {
			if k := s.key("state", st); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	default:
		keys = []string{s.key("jobs")}
	}
	var ids []int64
	for _, k := range keys {
		// Each index's first Limit matches include the first Limit of
		// their union.
		got, err := s.walk(ctx, k, f, exact)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	if len(keys) > 1 {
		ids = order(ids, f)
	}
	return ids, nil
}

// walk pages through an id-scored index in f's order, keeping the ids
// whose job matches f (every id when exact), up to f.Limit.
func (s *Store) walk(ctx context.Context, key string, f store.Filter, exact bool) ([]int64, error) {
	var out []int64
	start, stop := "-inf", "+inf"
	if f.BeforeID != 0 {
		stop = "(" + strconv.FormatInt(f.BeforeID, 10)
	}
	if !f.Ascending {
		start, stop = stop, start
	}
	for {
		count := page
		if exact && f.Limit > 0 {
			count = f.Limit - len(out)
		}
		members, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
			Key: key, Start: start, Stop: stop, ByScore: true, Rev: !f.Ascending, Count: int64(count),
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		ids, err := parseIDs(members)
		if err != nil {
			return nil, err
		}
		if !exact {
			if ids, err = s.matching(ctx, ids, f); err != nil {
				return nil, err
			}
		}
		out = append(out, ids...)
		if f.Limit > 0 && len(out) >= f.Limit {
			return out[:f.Limit], nil
		}
		if len(members) < count {
			return out, nil
		}
		// The next page starts after the last id seen.
		start = "(" + members[len(members)-1]
	}
}

// endedIDs returns the ids of jobs that ended before f.EndedBefore (and
// match the rest of f), in f's order and limit, from the ended index.
func (s *Store) endedIDs(ctx context.Context, f store.Filter) ([]int64, error) {
	// ended < cut, so the end second is at most that of cut-1ns.
	last := floorDiv(f.EndedBefore.UnixNano()-1, int64(time.Second))
	members, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
		Key: s.key("ended"), Start: "-inf", Stop: strconv.FormatInt(last, 10), ByScore: true,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	all, err := parseIDs(members)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for chunk := range slices.Chunk(all, page) {
		got, err := s.matching(ctx, chunk, f)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return order(ids, f), nil
}

// matching returns the ids whose job matches f, reading only the indexed
// fields.
func (s *Store) matching(ctx context.Context, ids []int64, f store.Filter) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	recs, err := s.read(ctx, ids, recordFields[:5])
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, r := range recs {
		if r.matches(f) {
			out = append(out, r.id)
		}
	}
	return out, nil
}

// order sorts ids in f's order, drops duplicates (a job that moved between
// two walked indexes) and applies f's limit.
func order(ids []int64, f store.Filter) []int64 {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if !f.Ascending {
		slices.Reverse(ids)
	}
	if f.Limit > 0 && len(ids) > f.Limit {
		ids = ids[:f.Limit]
	}
	return ids
}

func parseIDs(members []string) ([]int64, error) {
	ids := make([]int64, len(members))
	for i, m := range members {
		id, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis store: index entry %q is not a job id", m)
		}
		ids[i] = id
	}
	return ids, nil
}
