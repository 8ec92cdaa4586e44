// Package nomad runs GoDocker jobs on a HashiCorp Nomad cluster. Each job
// becomes a Nomad batch job named after its store and its id
// (<instance>-<store>-<job id>) with one task on the docker driver, running
// as the job's user with the same confinement as the Docker executor. Nomad
// places it; GoDocker alone decides reruns, so Nomad never restarts or
// reschedules it. A store never takes another store's Nomad job for one of
// its jobs.
package nomad

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/internal/lazy"
	"github.com/godocker/god/plugins/executor"
)

// Meta keys set on every Nomad job this executor registers.
const (
	MetaID       = "godocker_id"       // the GoDocker job id
	MetaInstance = "godocker_instance" // Config.Instance
	MetaName     = "godocker_name"     // the GoDocker job's name
	MetaURL      = "godocker_url"      // Config.JobURL for this job
	MetaStore    = "godocker_store"    // Config.StoreID: the whole id of the job's store
	MetaOwner    = "godocker_owner"    // the submitter's uid (Task.Owner)
	// MetaRequeue holds the reason a job was withdrawn because Nomad could
	// not place it in time; its presence makes the withdrawal durable, so a
	// restarted agent still reads State.Requeue.
	MetaRequeue = "godocker_requeue"
)

// The one task group and task of a GoDocker job.
const (
	groupName = "job"
	taskName  = "job"
)

// Config of the executor, from the agent's nomad block.
type Config struct {
	// Address of a Nomad agent's HTTP API; "" means http://127.0.0.1:4646.
	Address string
	// Token is the ACL token (secret); "" takes NOMAD_TOKEN from the
	// environment. It needs submit-job, read-job and read-logs in
	// Namespace, and node:read (for Capacity).
	Token string
	// Region and Namespace of the jobs; "" means the agent's defaults.
	Region    string
	Namespace string
	// Datacenters the jobs may run in (globs with *); empty means all.
	Datacenters []string
	// NodePool the jobs run in; "" means Nomad's "default" pool.
	NodePool string
	// Instance names this GoDocker installation: Nomad jobs are named
	// <Instance>-<store>-<job id>, so installations sharing a cluster stay
	// apart.
	Instance string
	// StoreID is the identity of the job store whose jobs this executor
	// runs (store.Identity.ID, 16 hex digits; required). Nomad jobs carry
	// its first 8 digits in their id and all of it in their meta
	// (godocker_store) and their containers' labels; the executor sees,
	// lists and acts on no other job. LegacyMaxJob
	// (store.Identity.LegacyMaxJob) lets it also recognise the jobs up to
	// that id registered by the release before store identities, named
	// <Instance>-<job id> with no godocker_store in their meta.
	StoreID      string
	LegacyMaxJob int64
	// Logger reports Nomad jobs of the instance that belong to another
	// store, once each; nil: not reported.
	Logger hclog.Logger
	// PlacementTimeout is how long a job may wait for Nomad to place it
	// before the executor withdraws it and reports State.Requeue; 0 means
	// 5 minutes.
	PlacementTimeout time.Duration
	// UIURL is the Nomad web UI's base URL (https://nomad.example.org:4646)
	// for State.Links; "" means Address.
	UIURL string
	// JobURL links a Nomad job back to GoDocker: "{id}" is replaced by the
	// GoDocker job id (https://god.example.org/ui/jobs/{id}). Stored in the
	// job's meta as godocker_url; "" sets none.
	JobURL string
	// KillTimeout is the kill_timeout of the jobs that have none of their
	// own (Task.KillTimeout 0: the agent kills those at once, with Kill):
	// how long Nomad lets such a task end after SIGTERM, when it stops the
	// job by itself (a Stop, a purge, a drain, or a Kill whose SIGKILL could
	// not reach the node), before SIGKILL; 0 means 5 seconds. Nomad clients
	// cap every kill_timeout at their own max_kill_timeout (30s unless set).
	KillTimeout time.Duration
	// PidsLimit caps processes per container; 0 means 4096.
	PidsLimit int64
	// CPUMHzPerCore converts a job's cores into Nomad's MHz. 0 takes the
	// smallest per-core speed among the ready nodes of the pool, so a job
	// that fits a node by cores always fits it by MHz.
	CPUMHzPerCore int
	// Priority of the Nomad jobs (1-100); 0 means Nomad's 50.
	Priority int
	// TLS: CA bundle, client certificate and key (paths), server name.
	CACert        string
	ClientCert    string
	ClientKey     string
	TLSServerName string
}

// String prints the configuration without the token, so logging it leaks
// nothing.
func (c Config) String() string {
	if c.Token != "" {
		c.Token = "(set)"
	}
	type plain Config // without this method
	return fmt.Sprintf("%+v", plain(c))
}

// capacityTTL is how long the nodes' resources are reused before asking
// Nomad again: the scheduler asks for capacity every cycle.
const capacityTTL = 10 * time.Second

// Executor implements executor.Executor on the Nomad HTTP API.
type Executor struct {
	cfg Config
	cli *api.Client
	now func() time.Time

	mu sync.Mutex
	// starting serializes the Start calls of one job in this process;
	// across processes, registration itself is conditional (see Start).
	starting executor.JobLocks
	nodes    *nodeInfo // cached, see capacityTTL
	// foreign are the Nomad jobs of another store already reported.
	foreign sync.Map
}

var (
	_ executor.Executor  = (*Executor)(nil)
	_ executor.LogReader = (*Executor)(nil)
)

// instanceRe keeps job ids valid for Nomad, URLs and the event filter.
var instanceRe = lazy.Regexp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// storeIDRe is a store id as the job store makes them (store.Identity).
var storeIDRe = lazy.Regexp(`^[0-9a-f]{16}$`)

// New checks the configuration and that Nomad answers, so a wrong address
// is reported at start-up with how to fix it rather than at the first job.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if cfg.Address == "" {
		cfg.Address = "http://127.0.0.1:4646"
	}
	if cfg.Instance == "" {
		cfg.Instance = "god"
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv("NOMAD_TOKEN")
	}
	if !storeIDRe().MatchString(cfg.StoreID) {
		return nil, fmt.Errorf("nomad executor: the job store's id is required, 16 lower-case hex digits (got %q); the agent passes its store's identity", cfg.StoreID)
	}
	if cfg.LegacyMaxJob < 0 {
		return nil, fmt.Errorf("nomad executor: legacy_max_job %d of the job store's identity must not be negative", cfg.LegacyMaxJob)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if !instanceRe().MatchString(cfg.Instance) {
		return nil, fmt.Errorf("nomad.instance %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", cfg.Instance)
	}
	if cfg.PlacementTimeout == 0 {
		cfg.PlacementTimeout = 5 * time.Minute
	}
	if cfg.PlacementTimeout < 0 {
		return nil, fmt.Errorf("nomad.placement_timeout %v: must be positive", cfg.PlacementTimeout)
	}
	if cfg.KillTimeout == 0 {
		cfg.KillTimeout = 5 * time.Second
	}
	if cfg.PidsLimit == 0 {
		cfg.PidsLimit = 4096
	}
	if cfg.CPUMHzPerCore < 0 {
		return nil, fmt.Errorf("nomad.cpu_mhz_per_core %d: must be positive (or 0 to derive it from the nodes)", cfg.CPUMHzPerCore)
	}
	if cfg.Priority < 0 || cfg.Priority > 100 {
		return nil, fmt.Errorf("nomad.priority %d: must be between 1 and 100 (0 for Nomad's default)", cfg.Priority)
	}
	if cfg.UIURL == "" {
		cfg.UIURL = cfg.Address
	}
	cfg.UIURL = strings.TrimRight(cfg.UIURL, "/")
	if cfg.JobURL != "" && !strings.Contains(cfg.JobURL, "{id}") {
		return nil, fmt.Errorf("nomad.job_url %q: must contain {id}, replaced by the GoDocker job id", cfg.JobURL)
	}
	for _, dc := range cfg.Datacenters {
		if dc == "" {
			return nil, errors.New("nomad.datacenters: empty name; remove it (an empty list means every datacenter)")
		}
	}
	apiCfg := &api.Config{
		Address:   cfg.Address,
		Region:    cfg.Region,
		Namespace: cfg.Namespace,
		SecretID:  cfg.Token,
		TLSConfig: &api.TLSConfig{
			CACert:        cfg.CACert,
			ClientCert:    cfg.ClientCert,
			ClientKey:     cfg.ClientKey,
			TLSServerName: cfg.TLSServerName,
		},
	}
	cli, err := api.NewClient(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("nomad.address %q: %w", cfg.Address, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var leader string
	if _, err := cli.Raw().Query("/v1/status/leader", &leader, queryOpts(pctx)); err != nil {
		cli.Close()
		return nil, fmt.Errorf("cannot reach Nomad at %s: %w; start it or set nomad { address = \"...\" } in the agent config", cfg.Address, err)
	}
	if leader == "" {
		cli.Close()
		return nil, fmt.Errorf("Nomad at %s has no leader; wait for its servers to elect one", cfg.Address)
	}
	return &Executor{cfg: cfg, cli: cli, now: time.Now}, nil
}

// e0 is a query bound to ctx.
func queryOpts(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{}).WithContext(ctx)
}

func writeOpts(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{}).WithContext(ctx)
}

// Close releases idle connections.
func (e *Executor) Close() error {
	e.cli.Close()
	return nil
}

// Name implements executor.Executor.
func (e *Executor) Name() string { return "nomad" }

// Capabilities implements executor.Executor. Nomad cannot freeze a task, so
// no CapPause.
func (e *Executor) Capabilities() []executor.Capability {
	return []executor.Capability{executor.CapKill, executor.CapLogs, executor.CapGPUs}
}

// JobID is the Nomad job id of a GoDocker job of this store.
func (e *Executor) JobID(jobID int64) string {
	return e.cfg.Instance + "-" + e.cfg.StoreID[:8] + "-" + strconv.FormatInt(jobID, 10)
}

// legacyJobID is the Nomad job id the release before store identities gave
// job jobID; "" when jobID is not a legacy job of the store.
func (e *Executor) legacyJobID(jobID int64) string {
	if jobID <= 0 || jobID > e.cfg.LegacyMaxJob {
		return ""
	}
	return e.cfg.Instance + "-" + strconv.FormatInt(jobID, 10)
}

// godockerID reads the GoDocker job id back from a Nomad job id that this
// store would use (its own naming, or the old one for a legacy job). The
// name alone decides (allocation events carry no job meta): a job it names
// is then read and checked in full by lookup.
func (e *Executor) godockerID(nomadID string) (int64, bool) {
	rest, ok := strings.CutPrefix(nomadID, e.cfg.Instance+"-")
	if !ok {
		return 0, false
	}
	if own, ok := strings.CutPrefix(rest, e.cfg.StoreID[:8]+"-"); ok {
		return parseJobID(own)
	}
	id, ok := parseJobID(rest)
	return id, ok && e.legacyJobID(id) != ""
}

// parseJobID reads a job id written by strconv.FormatInt, nothing else.
func parseJobID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == s
}

// ours tells whether the Nomad job nomadID with this meta is one of this
// store's jobs, which one, and whether it is of the old naming: its meta
// names this instance and job, and this store (or, without a store, the
// job is a legacy one of the store and has the old name).
func (e *Executor) ours(nomadID string, meta map[string]string) (jobID int64, legacy, ok bool) {
	if meta[MetaInstance] != e.cfg.Instance {
		return 0, false, false
	}
	id, ok := parseJobID(meta[MetaID])
	if !ok {
		return 0, false, false
	}
	if sid, labelled := meta[MetaStore]; labelled {
		return id, false, sid == e.cfg.StoreID && nomadID == e.JobID(id)
	}
	legacyID := e.legacyJobID(id)
	return id, true, legacyID != "" && nomadID == legacyID
}

// foreignStore reports whether meta is that of a GoDocker job of this
// instance (that ours refused): another store's, to leave alone.
func (e *Executor) foreignStore(meta map[string]string) bool {
	_, isJob := parseJobID(meta[MetaID])
	return meta[MetaInstance] == e.cfg.Instance && isJob
}

// reportForeign logs, once per Nomad job, one that is left alone because
// another store registered it.
func (e *Executor) reportForeign(nomadID string, meta map[string]string) {
	if _, seen := e.foreign.LoadOrStore(nomadID, struct{}{}); seen {
		return
	}
	e.cfg.Logger.Warn("Nomad job of another job store left alone (neither adopted nor purged)",
		"nomad_job", nomadID, "store_id", meta[MetaStore], "job_id", meta[MetaID], "this_store", e.cfg.StoreID)
}

// Start implements executor.Executor. Registration is asynchronous: Start
// returns once Nomad has the job, Running (waiting to be placed or
// starting); Inspect tells how it went. A driver failure (an image that
// cannot be pulled) then shows as a stopped state with Error set.
//
// Never two allocations for one job: the job is registered only if Nomad
// has none of that id (an index-checked register, so two agents racing
// cannot both succeed), or if it was withdrawn before any placement. A job
// that exists in any other state is left as is and its state returned.
//
// Owners as with the Docker executor: a legacy job (the old naming) of
// another owner is another store's job of the same number, left alone,
// and this one is registered under its own name; a job of this store's
// naming owned by someone else is refused, for a person to look at.
func (e *Executor) Start(ctx context.Context, t *executor.Task) (*executor.State, error) {
	defer e.starting.Lock(t.JobID)()
	var modifyIndex uint64 // 0: register only if no such job
	v, err := e.lookup(ctx, t.JobID)
	switch {
	case errors.Is(err, executor.ErrNotFound):
	case err != nil:
		return nil, err
	case v.legacy && !v.ownedBy(t.Owner, t.UID):
		// Another store's job of the same number, from the release before
		// store identities: not this job's. Leave it alone and register
		// this job under its own name (lookup found no job of that name).
	case !v.ownedBy(t.Owner, t.UID):
		return nil, fmt.Errorf("Nomad job %s for job %d belongs to uid %d, not to the job's owner (uid %d): GoDocker leaves it alone; purge it (nomad job stop -purge %s) if it is stale", v.nomadID, t.JobID, v.owner, t.Owner, v.nomadID)
	case v.stopped() && len(v.allocs) == 0, v.stopped() && isRequeued(v) && !v.stopping():
		// Withdrawn before it ran (Requeue, or a kill before placement):
		// submit it again, as a new version of the same Nomad job; a
		// legacy one, as a new job of the new name.
		if !v.legacy {
			modifyIndex = v.modifyIndex
		}
	case isRequeued(v):
		return nil, fmt.Errorf("Nomad job %s was withdrawn but its allocation is still stopping; retry shortly", v.nomadID)
	default:
		return e.stateOf(ctx, v)
	}
	job, err := e.nomadJob(ctx, t)
	if err != nil {
		return nil, err
	}
	_, _, err = e.cli.Jobs().RegisterOpts(job, &api.RegisterOptions{EnforceIndex: true, ModifyIndex: modifyIndex}, writeOpts(ctx))
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "Enforcing job modify index"):
		// Another agent registered it meanwhile: one job, theirs.
		return e.Inspect(ctx, t.JobID)
	case refused(err):
		return nil, executor.Permanent(fmt.Errorf("Nomad refused the job: %s", responseText(err)))
	default:
		return nil, fmt.Errorf("registering Nomad job %s: %w", *job.ID, err)
	}
	return &executor.State{
		JobID:   t.JobID,
		ID:      *job.ID,
		Name:    *job.ID,
		Owner:   t.Owner,
		Running: true,
		Links:   e.links(*job.ID, ""),
	}, nil
}

func isRequeued(v *view) bool {
	_, ok := v.requeued()
	return ok
}

// statusCode is the HTTP status of a failed Nomad request, 0 if none.
func statusCode(err error) int {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) && ue.HasStatusCode() {
		return ue.StatusCode()
	}
	return 0
}

// responseText is Nomad's own explanation in a failed request, for users.
func responseText(err error) string {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) && ue.HasBody() {
		return strings.TrimSpace(ue.Body())
	}
	return err.Error()
}

// refused reports a registration Nomad will never accept as it is: a bad
// request, or a job that fails validation (which Nomad answers with 500).
func refused(err error) bool {
	code := statusCode(err)
	return code == http.StatusBadRequest ||
		code == http.StatusInternalServerError && strings.Contains(responseText(err), "validation failed")
}

func isNotFound(err error) bool { return statusCode(err) == http.StatusNotFound }

// view is what Nomad knows of one GoDocker job: the job's fields the
// executor reads (from the job or its list entry) and its allocations.
type view struct {
	jobID       int64
	nomadID     string
	stop        bool
	meta        map[string]string
	submitTime  int64                     // of the job's current version, Unix ns
	modifyIndex uint64                    // JobModifyIndex: changes with each registration
	allocs      []*api.AllocationListStub // newest first
	// legacy: registered by the release before store identities; owner is
	// then the uid its task runs as, else the one in its meta (see
	// executor.State.Owner).
	legacy bool
	owner  int
}

func (v *view) stopped() bool { return v.stop }

// ownedBy is executor.State.OwnedBy of the job.
func (v *view) ownedBy(owner, runAs int) bool {
	return (&executor.State{Owner: v.owner, Legacy: v.legacy}).OwnedBy(owner, runAs)
}

// requeued reports a job withdrawn because Nomad could not place it in
// time, with the reason.
func (v *view) requeued() (string, bool) {
	reason, ok := v.meta[MetaRequeue]
	return reason, ok && v.stop
}

// stopping reports whether an allocation of the job has not ended yet.
func (v *view) stopping() bool {
	for _, a := range v.allocs {
		switch a.ClientStatus {
		case api.AllocClientStatusPending, api.AllocClientStatusRunning, api.AllocClientStatusUnknown:
			return true
		}
	}
	return false
}

// noOwner matches no uid (and is not executor.OwnerUnknown): the owner of
// a job whose meta (or, for a legacy job, task user) names none.
const noOwner = -2

// metaOwner is the owner uid in a job's meta.
func metaOwner(meta map[string]string) int {
	if n, err := strconv.Atoi(meta[MetaOwner]); err == nil && n >= 0 {
		return n
	}
	return noOwner
}

// legacyOwner is the owner of a job of the old naming: the release that
// registered it wrote no owner, so the uid its task runs as (0 for a root
// job), from the task's user "uid:gid".
func legacyOwner(job *api.Job) int {
	for _, g := range job.TaskGroups {
		for _, t := range g.Tasks {
			if t.Name != taskName {
				continue
			}
			uid, _, _ := strings.Cut(t.User, ":")
			if n, err := strconv.Atoi(uid); err == nil && n >= 0 {
				return n
			}
		}
	}
	return noOwner
}

// lookup reads the job and its allocations, or ErrNotFound: the job of
// this store's naming, else (for a legacy job id) the one of the old
// naming.
func (e *Executor) lookup(ctx context.Context, jobID int64) (*view, error) {
	v, err := e.lookupID(ctx, e.JobID(jobID), jobID)
	if errors.Is(err, executor.ErrNotFound) {
		if legacy := e.legacyJobID(jobID); legacy != "" {
			v, err = e.lookupID(ctx, legacy, jobID)
		}
	}
	return v, err
}

// lookupID reads Nomad job id as the one of job jobID.
func (e *Executor) lookupID(ctx context.Context, id string, jobID int64) (*view, error) {
	job, _, err := e.cli.Jobs().Info(id, queryOpts(ctx))
	if isNotFound(err) {
		return nil, executor.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading Nomad job %s: %w", id, err)
	}
	got, legacy, ok := e.ours(id, job.Meta)
	if !ok || got != jobID {
		// A job of that id that we did not register: not ours to run.
		return nil, fmt.Errorf("Nomad job %s exists but was not registered by GoDocker instance %q for job %d of store %s", id, e.cfg.Instance, jobID, e.cfg.StoreID)
	}
	allocs, _, err := e.cli.Jobs().Allocations(id, true, queryOpts(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading allocations of Nomad job %s: %w", id, err)
	}
	v := &view{
		jobID:       jobID,
		nomadID:     id,
		stop:        job.Stop != nil && *job.Stop,
		meta:        job.Meta,
		modifyIndex: deref(job.JobModifyIndex),
		submitTime:  deref(job.SubmitTime),
		legacy:      legacy,
		owner:       metaOwner(job.Meta),
	}
	if legacy {
		v.owner = legacyOwner(job)
	}
	v.setAllocs(allocs)
	return v, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (v *view) setAllocs(allocs []*api.AllocationListStub) {
	slices.SortFunc(allocs, func(a, b *api.AllocationListStub) int {
		return -cmpUint(a.CreateIndex, b.CreateIndex)
	})
	v.allocs = allocs
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Inspect implements executor.Executor. For a job Nomad has not placed
// within the placement timeout, Inspect withdraws it (the job stays, stopped,
// with the reason in its meta) and reports Requeue.
func (e *Executor) Inspect(ctx context.Context, jobID int64) (*executor.State, error) {
	v, err := e.lookup(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return e.stateOf(ctx, v)
}

// List implements executor.Executor: the jobs of this store, in two
// requests (the jobs, then all their allocations) plus one per job that
// waits for placement and one per legacy job (for its owner). Another
// store's jobs of the same instance are left out (and reported once).
func (e *Executor) List(ctx context.Context) ([]*executor.State, error) {
	q := queryOpts(ctx)
	q.Prefix = e.cfg.Instance + "-"
	stubs, _, err := e.cli.Jobs().ListOptions(&api.JobListOptions{Fields: &api.JobListFields{Meta: true}}, q)
	if err != nil {
		return nil, fmt.Errorf("listing Nomad jobs: %w", err)
	}
	views := make(map[string]*view, len(stubs))
	for _, s := range stubs {
		id, legacy, ok := e.ours(s.ID, s.Meta)
		if !ok {
			if e.foreignStore(s.Meta) {
				e.reportForeign(s.ID, s.Meta)
			}
			continue // another store's, another instance whose name starts like ours, or not GoDocker's
		}
		v := &view{
			jobID:       id,
			nomadID:     s.ID,
			stop:        s.Stop,
			meta:        s.Meta,
			submitTime:  s.SubmitTime,
			modifyIndex: s.JobModifyIndex,
			legacy:      legacy,
			owner:       metaOwner(s.Meta),
		}
		if legacy {
			// The list has no tasks: the owner is the task's user.
			job, _, err := e.cli.Jobs().Info(s.ID, queryOpts(ctx))
			if isNotFound(err) {
				continue // purged meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("reading Nomad job %s: %w", s.ID, err)
			}
			v.owner = legacyOwner(job)
		}
		views[s.ID] = v
	}
	if len(views) == 0 {
		return nil, nil
	}
	aq := queryOpts(ctx)
	aq.Filter = "JobID matches `" + e.allocJobPattern() + "`"
	allocs, _, err := e.cli.Allocations().List(aq)
	if err != nil {
		return nil, fmt.Errorf("listing Nomad allocations: %w", err)
	}
	byJob := make(map[string][]*api.AllocationListStub)
	for _, a := range allocs {
		byJob[a.JobID] = append(byJob[a.JobID], a)
	}
	out := make([]*executor.State, 0, len(views))
	for _, s := range stubs { // in Nomad's order, by job id
		v := views[s.ID]
		if v == nil {
			continue
		}
		v.setAllocs(byJob[s.ID])
		st, err := e.stateOf(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// allocJobPattern matches the Nomad job ids of this store's naming (and of
// the old naming, when the store has legacy jobs), for Nomad to filter the
// allocations it lists: not the other stores' of the instance.
func (e *Executor) allocJobPattern() string {
	own := regexp.QuoteMeta(e.cfg.StoreID[:8]) + "-"
	if e.cfg.LegacyMaxJob > 0 {
		own = "(" + own + ")?"
	}
	return "^" + regexp.QuoteMeta(e.cfg.Instance) + "-" + own + "[0-9]+$"
}

// Stop implements executor.Executor: the job is stopped (deregistered, not
// purged). Nomad sends its task the kill_signal registered with it,
// SIGTERM, and SIGKILL once its kill_timeout (Task.KillTimeout) has passed.
func (e *Executor) Stop(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if v.stopped() {
		return nil // already stopping, or stopped
	}
	return e.deregister(ctx, v)
}

// Kill implements executor.Executor: the task gets SIGKILL at once, sent
// through Nomad's alloc signal API (forwarded by the server to the client
// that runs it), and the job is stopped (not purged, so its exit code
// stays readable). A stop alone would not do: Nomad sends the kill_signal
// (SIGTERM) and waits kill_timeout before SIGKILL. A job stopped earlier
// and still in its kill_timeout is killed the same way, so the agent's
// escalation at a stop's deadline is immediate too. A task that is not
// running yet (placed, pulling its image) has nothing to signal: the stop
// ends it before it runs. If the signal cannot reach the node, the job is
// still stopped (Nomad kills it at its kill_timeout) and the error is
// returned, for the agent to retry.
func (e *Executor) Kill(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var signalErr error
	for _, a := range v.allocs {
		if a.ClientStatus != api.AllocClientStatusRunning {
			continue
		}
		err := e.cli.Allocations().Signal(&api.Allocation{ID: a.ID}, queryOpts(ctx), taskName, "SIGKILL")
		if err != nil && !taskGone(err) {
			signalErr = fmt.Errorf("sending SIGKILL to allocation %s of Nomad job %s: %w", a.ID, v.nomadID, err)
		}
	}
	if !v.stopped() {
		if err := e.deregister(ctx, v); err != nil {
			return err
		}
	}
	return signalErr
}

// taskGone reports a signal that found no task to kill: it ended, or its
// allocation is gone, meanwhile.
func taskGone(err error) bool {
	text := responseText(err)
	return isNotFound(err) || strings.Contains(text, "not running") || strings.Contains(text, "Unknown allocation")
}

// deregister stops the job (not purged, so its exit code stays readable).
func (e *Executor) deregister(ctx context.Context, v *view) error {
	_, _, err := e.cli.Jobs().Deregister(v.nomadID, false, writeOpts(ctx))
	if err == nil || isNotFound(err) {
		return nil
	}
	return fmt.Errorf("stopping Nomad job %s: %w", v.nomadID, err)
}

// Pause implements executor.Executor: Nomad cannot freeze a task.
func (e *Executor) Pause(context.Context, int64) error { return executor.ErrNotSupported }

// Unpause implements executor.Executor.
func (e *Executor) Unpause(context.Context, int64) error { return executor.ErrNotSupported }

// Remove implements executor.Executor: the store's job is purged from
// Nomad, with its allocations (stopping them first if any still runs).
func (e *Executor) Remove(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, _, err = e.cli.Jobs().Deregister(v.nomadID, true, writeOpts(ctx))
	if err == nil || isNotFound(err) {
		return nil
	}
	return fmt.Errorf("purging Nomad job %s: %w", v.nomadID, err)
}

// links are the references State.Links carries.
func (e *Executor) links(nomadJobID, allocID string) map[string]string {
	ns := e.cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	l := map[string]string{
		executor.LinkNomadJob: nomadJobID,
		executor.LinkNomadUI:  e.cfg.UIURL + "/ui/jobs/" + url.PathEscape(nomadJobID+"@"+ns),
	}
	if allocID != "" {
		l[executor.LinkNomadAlloc] = allocID
	}
	return l
}
