// Package sqlite is the embedded job store: one SQLite file in WAL mode with
// synchronous=FULL, so an acknowledged write survives a crash or power loss.
// Writes from concurrent callers are grouped into one transaction (group
// commit) so that durability costs one fsync per batch, not per job.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godocker/god/job"
	"github.com/godocker/god/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// schema creates the jobs table of a new store. parent and ended mirror
// fields of data (ParentID, and Dates.Ended in unix nanoseconds, 0 when not
// ended) so that List can filter on them, and submit_key (SubmitKey, NULL
// when none) so that a key is unique; migrate adds them to a store created
// before they existed. indexes are created after the migration.
const schema = `
CREATE TABLE IF NOT EXISTS jobs (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	uid     INTEGER NOT NULL,
	state   TEXT    NOT NULL,
	version INTEGER NOT NULL,
	data    BLOB    NOT NULL,
	parent  INTEGER NOT NULL DEFAULT 0,
	ended   INTEGER NOT NULL DEFAULT 0,
	submit_key TEXT
);
CREATE TABLE IF NOT EXISTS records (
	kind    TEXT    NOT NULL,
	key     TEXT    NOT NULL,
	version INTEGER NOT NULL,
	data    BLOB    NOT NULL,
	PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL,
	actor  TEXT    NOT NULL,
	action TEXT    NOT NULL,
	data   BLOB    NOT NULL
);
`

const indexes = `
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE INDEX IF NOT EXISTS jobs_uid ON jobs(uid, id);
CREATE INDEX IF NOT EXISTS jobs_parent ON jobs(parent, id);
CREATE INDEX IF NOT EXISTS jobs_ended ON jobs(state, ended);
CREATE INDEX IF NOT EXISTS audit_actor ON audit(actor, id);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_submit_key ON jobs(submit_key) WHERE submit_key IS NOT NULL;
`

// addedColumns are the columns added to the first schema, with their
// definitions for ALTER TABLE; backfill says whether existing rows need
// their value from the job's data (jobs stored before submit keys have
// none).
var addedColumns = []struct {
	name, def string
	backfill  bool
}{
	{"parent", "parent INTEGER NOT NULL DEFAULT 0", true},
	{"ended", "ended INTEGER NOT NULL DEFAULT 0", true},
	{"submit_key", "submit_key TEXT", false},
}

// maxBatch bounds one group commit so a burst cannot hold the writer forever.
const maxBatch = 1024

// Store is the SQLite implementation of store.Store.
type Store struct {
	writeDB *sql.DB
	readDB  *sql.DB
	ops     chan *op
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the writer goroutine has returned
	lock    *os.File      // flock held while open
	close   sync.Once
	ident   store.Identity
}

var errClosed = errors.New("job store is closed")

var (
	_ store.Store   = (*Store)(nil)
	_ store.Records = (*Store)(nil)
)

type op struct {
	fn  func(*sql.Tx) error
	err chan error
}

// Open opens (creating if needed) the store in dir/god.db.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	// One process per store: two agents writing one queue would each
	// believe it owns the jobs.
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking job store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("job store %s is in use by another process (another god agent with the same data_dir?): %w", dir, err)
	}
	path := filepath.Join(dir, "god.db")
	// path goes into a file: URI, where '?' starts the query, '#' a
	// fragment and '%' an escape: escape them so that the database is where
	// it is asked to be.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := uri + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		lock.Close()
		return nil, err
	}
	w.SetMaxOpenConns(1)
	ident, err := initSchema(w)
	if err != nil {
		w.Close()
		lock.Close()
		return nil, fmt.Errorf("opening job store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(10000)&mode=ro")
	if err != nil {
		w.Close()
		lock.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	s := &Store{writeDB: w, readDB: r, lock: lock, ops: make(chan *op, maxBatch), done: make(chan struct{}), stopped: make(chan struct{}), ident: ident}
	go s.writer()
	return s, nil
}

// initSchema creates the table and indexes, migrating a table of an older
// schema in the same transaction: a crash leaves either the old schema or
// the new one complete with its backfilled columns and its identity.
func initSchema(db *sql.DB) (store.Identity, error) {
	tx, err := db.Begin()
	if err != nil {
		return store.Identity{}, err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(schema); err != nil {
		return store.Identity{}, err
	}
	if err := migrate(tx); err != nil {
		return store.Identity{}, err
	}
	if _, err := tx.Exec(indexes); err != nil {
		return store.Identity{}, err
	}
	ident, err := identity(tx)
	if err != nil {
		return store.Identity{}, err
	}
	return ident, tx.Commit()
}

// identity reads the store's identity, giving it one if it has none: a
// new store, or one created before stores had an identity, whose jobs so
// far (up to the last id assigned) are legacy.
func identity(tx *sql.Tx) (store.Identity, error) {
	var ident store.Identity
	meta := map[string]string{}
	rows, err := tx.Query("SELECT key, value FROM meta")
	if err != nil {
		return ident, fmt.Errorf("store identity: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return ident, fmt.Errorf("store identity: %w", err)
		}
		meta[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ident, fmt.Errorf("store identity: %w", err)
	}
	if id, ok := meta["store_id"]; ok {
		ident.ID = id
		if ident.LegacyMaxJob, err = strconv.ParseInt(meta["legacy_max_job"], 10, 64); err != nil {
			return ident, fmt.Errorf("store identity: legacy_max_job %q: %w", meta["legacy_max_job"], err)
		}
		return ident, ident.Check()
	}
	ident.ID = store.NewID()
	if err := tx.QueryRow("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0)").Scan(&ident.LegacyMaxJob); err != nil {
		return ident, fmt.Errorf("store identity: %w", err)
	}
	if _, err := tx.Exec("INSERT INTO meta(key, value) VALUES ('store_id', ?), ('legacy_max_job', ?)", ident.ID, strconv.FormatInt(ident.LegacyMaxJob, 10)); err != nil {
		return ident, fmt.Errorf("store identity: %w", err)
	}
	return ident, nil
}

// Identity implements store.Identified.
func (s *Store) Identity() store.Identity { return s.ident }

// migrate adds the columns missing from a table created by an older schema
// and fills them from each job's data.
func migrate(tx *sql.Tx) error {
	rows, err := tx.Query("SELECT name FROM pragma_table_info('jobs')")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	fill := false
	for _, c := range addedColumns {
		if !have[c.name] {
			if _, err := tx.Exec("ALTER TABLE jobs ADD COLUMN " + c.def); err != nil {
				return fmt.Errorf("adding column %s: %w", c.name, err)
			}
			fill = fill || c.backfill
		}
	}
	if !fill {
		return nil
	}
	// Backfill in Go rather than with json_extract: ended must be exactly
	// what Create and Update store, to the nanosecond.
	type row struct {
		id, parent, ended int64
	}
	var rowsToFill []row
	rows, err = tx.Query("SELECT id, data FROM jobs")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			rows.Close()
			return err
		}
		var j struct {
			ParentID int64 `json:"parent_id"`
			Dates    struct {
				Ended *time.Time `json:"ended"`
			} `json:"dates"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			rows.Close()
			return fmt.Errorf("decoding job %d: %w", id, err)
		}
		if r := (row{id, j.ParentID, endedNanos(j.Dates.Ended)}); r.parent != 0 || r.ended != 0 {
			rowsToFill = append(rowsToFill, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	stmt, err := tx.Prepare("UPDATE jobs SET parent = ?, ended = ? WHERE id = ?")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rowsToFill {
		if _, err := stmt.Exec(r.parent, r.ended, r.id); err != nil {
			return err
		}
	}
	return nil
}

// endedNanos is the value of the ended column for a job's Dates.Ended.
func endedNanos(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixNano()
}

// Close stops the writer and closes the database. A batch being committed
// completes first; writes still queued fail.
func (s *Store) Close() error {
	s.close.Do(func() { close(s.done) })
	<-s.stopped
	return errors.Join(s.readDB.Close(), s.writeDB.Close(), s.lock.Close())
}

// write runs fn in the next group-committed transaction and waits until that
// transaction is durable (or failed).
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	// select below picks at random among ready cases: check first so that
	// a call with a context already done never writes.
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, err: make(chan error, 1)}
	select {
	case s.ops <- o:
	case <-s.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the write will happen unless the store closes first: wait
	// for its outcome even if ctx ends, so a caller never reports failure for
	// a committed write.
	select {
	case err := <-o.err:
		return err
	case <-s.stopped:
		// The writer answers every op it took before it returns, so an op
		// without an answer now was never run and never will be.
		select {
		case err := <-o.err:
			return err
		default:
			return errClosed
		}
	}
}

func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case <-s.done:
			return
		case o := <-s.ops:
			batch = append(batch[:0], o)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// commit runs a batch in one transaction; each op runs inside its own
// savepoint so that one failing op does not fail the others.
func (s *Store) commit(batch []*op) {
	results := make([]error, len(batch))
	tx, err := s.writeDB.Begin()
	if err == nil {
		for i, o := range batch {
			if _, err = tx.Exec("SAVEPOINT op"); err != nil {
				break
			}
			if results[i] = o.fn(tx); results[i] != nil {
				if _, err = tx.Exec("ROLLBACK TO op"); err != nil {
					break
				}
			}
			if _, err = tx.Exec("RELEASE op"); err != nil {
				break
			}
		}
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	for i, o := range batch {
		if err != nil {
			o.err <- fmt.Errorf("job store write: %w", err)
		} else {
			o.err <- results[i]
		}
	}
}

const insertJob = "INSERT INTO jobs(uid, state, version, data, parent, ended, submit_key) VALUES (?, ?, 1, ?, ?, ?, ?)"

// submitKey is the submit_key column of a job: NULL without a key, so
// that the unique index ignores keyless jobs.
func submitKey(j *job.Job) any {
	if j.SubmitKey == "" {
		return nil
	}
	return j.SubmitKey
}

// checkKey refuses a job whose submit key is taken. The writer runs one
// op at a time, so nothing can take the key between this check and the
// insert.
func checkKey(tx *sql.Tx, j *job.Job) error {
	if j.SubmitKey == "" {
		return nil
	}
	var id int64
	err := tx.QueryRow("SELECT id FROM jobs WHERE submit_key = ?", j.SubmitKey).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &store.DuplicateError{ID: id}
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, j *job.Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := checkKey(tx, j); err != nil {
			return err
		}
		res, err := tx.Exec(insertJob, j.User.UID, j.Status.Primary, data, j.ParentID, endedNanos(j.Dates.Ended), submitKey(j))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return err
	}
	j.ID, j.Version = id, 1
	return nil
}

// CreateBatch implements store.BatchCreator: the jobs are one op of the
// group commit, so one savepoint; if any insert fails, none remains.
func (s *Store) CreateBatch(ctx context.Context, jobs []*job.Job) error {
	data := make([][]byte, len(jobs))
	for i, j := range jobs {
		var err error
		if data[i], err = json.Marshal(j); err != nil {
			return fmt.Errorf("job %d of the batch: %w", i, err)
		}
	}
	ids := make([]int64, len(jobs))
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.Prepare(insertJob)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, j := range jobs {
			if err := checkKey(tx, j); err != nil {
				return err
			}
			res, err := stmt.Exec(j.User.UID, j.Status.Primary, data[i], j.ParentID, endedNanos(j.Dates.Ended), submitKey(j))
			if err != nil {
				return fmt.Errorf("job %d of the batch: %w", i, err)
			}
			if ids[i], err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, j := range jobs {
		j.ID, j.Version = ids[i], 1
	}
	return nil
}

// CreateArray implements store.Store. The parent and its tasks are one op
// of the group commit, so one transaction (and inside it one savepoint):
// if any insert fails, none remains. The caller's jobs change only on
// success.
func (s *Store) CreateArray(ctx context.Context, parent *job.Job, tasks []*job.Job) error {
	pdata, err := json.Marshal(parent)
	if err != nil {
		return err
	}
	var pid int64
	tids := make([]int64, len(tasks))
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := checkKey(tx, parent); err != nil {
			return err
		}
		res, err := tx.Exec(insertJob, parent.User.UID, parent.Status.Primary, pdata, parent.ParentID, endedNanos(parent.Dates.Ended), submitKey(parent))
		if err != nil {
			return err
		}
		if pid, err = res.LastInsertId(); err != nil {
			return err
		}
		if len(tasks) == 0 {
			return nil
		}
		stmt, err := tx.Prepare(insertJob)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, t := range tasks {
			// The parent's id is known only now: encode a copy
			// that has it.
			c := *t
			c.ParentID = pid
			data, err := json.Marshal(&c)
			if err != nil {
				return fmt.Errorf("task %d: %w", i, err)
			}
			res, err := stmt.Exec(c.User.UID, c.Status.Primary, data, pid, endedNanos(c.Dates.Ended), submitKey(&c))
			if err != nil {
				return fmt.Errorf("task %d: %w", i, err)
			}
			if tids[i], err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	parent.ID, parent.Version = pid, 1
	for i, t := range tasks {
		t.ID, t.Version, t.ParentID = tids[i], 1, pid
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, id int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec("DELETE FROM jobs WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, j *job.Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec("UPDATE jobs SET state = ?, version = version + 1, data = ?, parent = ?, ended = ? WHERE id = ? AND version = ?",
			j.Status.Primary, data, j.ParentID, endedNanos(j.Dates.Ended), j.ID, j.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.QueryRow("SELECT 1 FROM jobs WHERE id = ?", j.ID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return store.ErrConflict
	})
	if err != nil {
		return err
	}
	j.Version++
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id int64) (*job.Job, error) {
	row := s.readDB.QueryRowContext(ctx, "SELECT id, version, data FROM jobs WHERE id = ?", id)
	j, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return j, err
}

// GetBySubmitKey implements store.Store.
func (s *Store) GetBySubmitKey(ctx context.Context, key string) (*job.Job, error) {
	row := s.readDB.QueryRowContext(ctx, "SELECT id, version, data FROM jobs WHERE submit_key = ?", key)
	j, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return j, err
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*job.Job, error) {
	var where []string
	var args []any
	if f.UID != nil {
		where = append(where, "uid = ?")
		args = append(args, *f.UID)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(",?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.ParentID != 0 {
		where = append(where, "parent = ?")
		args = append(args, f.ParentID)
	}
	if !f.EndedBefore.IsZero() {
		where = append(where, "ended <> 0 AND ended < ?")
		args = append(args, f.EndedBefore.UnixNano())
	}
	if f.BeforeID != 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	q := "SELECT id, version, data FROM jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Ascending {
		q += " ORDER BY id ASC"
	} else {
		q += " ORDER BY id DESC"
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*job.Job
	for rows.Next() {
		j, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(...any) error }

func scan(r scanner) (*job.Job, error) {
	var id, version int64
	var data []byte
	if err := r.Scan(&id, &version, &data); err != nil {
		return nil, err
	}
	var j job.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("decoding job %d: %w", id, err)
	}
	j.ID, j.Version = id, version
	return &j, nil
}
