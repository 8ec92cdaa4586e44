// Package config reads the agent's HCL configuration. example.hcl at the
// repository root documents every field and is parsed by a test.
package config

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/godocker/god/agent/cluster"
	"github.com/godocker/god/internal/lazy"
	"github.com/godocker/god/jobspec"
	"github.com/godocker/god/plugins/scheduler/godocker"
)

// Config is the agent configuration.
type Config struct {
	// DataDir holds the job store.
	DataDir string `hcl:"data_dir,optional"`
	// SharedDir holds the job directories; on a cluster it must be mounted at
	// the same path on every node.
	SharedDir string `hcl:"shared_dir,optional"`
	// Socket is the Unix socket of the API; every local user may connect and
	// is identified by the kernel.
	Socket    string `hcl:"socket,optional"`
	LogLevel  string `hcl:"log_level,optional"`
	AllowRoot bool   `hcl:"allow_root,optional"`
	// UnsatisfiableDependencies says what happens to a job whose dependency
	// can never be satisfied: "end" it (over, with the reason) or "hold" it.
	UnsatisfiableDependencies string `hcl:"unsatisfiable_dependencies,optional"`
	// MaxRetries caps the retries a job may ask for (reruns after its
	// container was lost by the engine).
	MaxRetries *int `hcl:"max_retries,optional"`
	// MaxKillTimeout caps the kill_timeout a job may ask for.
	MaxKillTimeout string `hcl:"max_kill_timeout,optional"`
	// MaxKillTimeoutTime is MaxKillTimeout parsed by Finalize.
	MaxKillTimeoutTime time.Duration
	// AvoidFailedNodes places a retried job on another node than the ones
	// it was lost on.
	AvoidFailedNodes bool `hcl:"avoid_failed_nodes,optional"`
	// ArchiveAfter is how long finished jobs keep their directories before
	// the archiver removes them; "off" disables it.
	ArchiveAfter string `hcl:"archive_after,optional"`
	// ArchiveAge is ArchiveAfter parsed by Finalize (0 when off).
	ArchiveAge time.Duration
	// MaxPendingPerUser and MaxPending cap the pending jobs (array tasks
	// count one each) of one user and of everyone: a submit beyond is
	// refused with 429 (Go-Docker's rate_limit and rate_limit_all). 0 means
	// no cap.
	MaxPendingPerUser int `hcl:"max_pending_per_user,optional"`
	MaxPending        int `hcl:"max_pending,optional"`
	// UpdatableFields lists the job fields users may change on pending or
	// running jobs (Go-Docker's dynamic_fields): max_lifespan, throttle.
	UpdatableFields []string `hcl:"updatable_fields,optional"`
	// PluginDir holds plugin binaries: a scheduler named "x" that is not
	// built in runs <plugin_dir>/god-scheduler-x.
	PluginDir string `hcl:"plugin_dir,optional"`

	// Admins may see and manage every job, user and project; AdminGroups
	// makes every member of these groups (system or LDAP) an admin. root on
	// the agent's host always is one.
	Admins      []string `hcl:"admins,optional"`
	AdminGroups []string `hcl:"admin_groups,optional"`
	// ShareProjectJobs lets the members of a project see and manage each
	// other's jobs in it (Go-Docker's share_project_tasks).
	ShareProjectJobs bool `hcl:"share_project_jobs,optional"`
	// TokenTTL is how long a login's token lasts ("12h").
	TokenTTL string `hcl:"token_ttl,optional"`
	// TokenLifetime is TokenTTL parsed by Finalize.
	TokenLifetime time.Duration

	Auth   []*Auth `hcl:"auth,block"`
	Guests *Guests `hcl:"guests,block"`
	Images *Images `hcl:"images,block"`
	// Executor runs the jobs: "docker" (the local engine, the default),
	// "nomad" (a Nomad cluster, configured by the nomad block) or "swarm"
	// (a Docker Swarm cluster, configured by the swarm block).
	Executor string `hcl:"executor,optional"`
	Nomad    *Nomad `hcl:"nomad,block"`
	Swarm    *Swarm `hcl:"swarm,block"`

	Sessions  *Sessions  `hcl:"sessions,block"`
	Scheduler *Scheduler `hcl:"scheduler,block"`
	Quota     *Quota     `hcl:"quota,block"`
	HTTP      *HTTP      `hcl:"http,block"`
	Docker    *Docker    `hcl:"docker,block"`
	Defaults  *Defaults  `hcl:"defaults,block"`
	Volumes   []*Volume  `hcl:"volume,block"`
	Store     *Store     `hcl:"store,block"`

	// Roles are what this agent does in a cluster (with a consul block):
	// "api" serves the API (requests are forwarded to the leader),
	// "scheduler" may be elected leader, which schedules and dispatches,
	// "watcher" follows the engine and finalizes a share of the jobs that
	// end. Default: all three.
	Roles  []string `hcl:"roles,optional"`
	Consul *Consul  `hcl:"consul,block"`
	// Cluster is the consul block checked and converted by Finalize; nil
	// without a consul block.
	Cluster *cluster.Config

	// Dev is set by `god agent -dev`, not by files.
	Dev bool
}

// HTTP configures the TCP listener of the API. Outside dev mode every
// request on it needs a token, and a non-loopback address needs TLS.
type HTTP struct {
	Enabled bool   `hcl:"enabled,optional"`
	Address string `hcl:"address,optional"`
	Port    int    `hcl:"port,optional"`
	// TLSCert and TLSKey are PEM files; with them the API speaks HTTPS.
	TLSCert string `hcl:"tls_cert,optional"`
	TLSKey  string `hcl:"tls_key,optional"`
	// PublicURL is how users reach the API (links, guest login callbacks).
	PublicURL string `hcl:"public_url,optional"`
	// TLSCAFile verifies the certificates of the other agents of a cluster
	// when this one forwards a request to the leader (default: the
	// system's roots).
	TLSCAFile string `hcl:"tls_ca_file,optional"`
}

// Sessions limits the sessions users open into their running jobs
// (`god job exec`, `god job ssh`).
type Sessions struct {
	// MaxPerJob is how many sessions a job may have open at once.
	MaxPerJob int `hcl:"max_per_job,optional"`
	// IdleTimeout closes a session without input or output for that long.
	IdleTimeout string `hcl:"idle_timeout,optional"`
	// Idle is IdleTimeout parsed by Finalize.
	Idle time.Duration
}

// Scheme is how the API is reached: https with a certificate, else http.
func (h *HTTP) Scheme() string {
	if h.TLSCert != "" {
		return "https"
	}
	return "http"
}

// Consul makes the agent one of several sharing a Redis store: they elect
// a leader through Consul and register their roles as Consul services.
// See website/content/docs/production.md.
type Consul struct {
	Address         string `hcl:"address,optional"`
	Token           string `hcl:"token,optional"`
	TokenFile       string `hcl:"token_file,optional"`
	Datacenter      string `hcl:"datacenter,optional"`
	NodeName        string `hcl:"node_name,optional"`
	Advertise       string `hcl:"advertise,optional"`
	ServicePrefix   string `hcl:"service_prefix,optional"`
	KVPrefix        string `hcl:"kv_prefix,optional"`
	SessionTTL      string `hcl:"session_ttl,optional"`
	LockDelay       string `hcl:"lock_delay,optional"`
	CheckTTL        string `hcl:"check_ttl,optional"`
	CheckInterval   string `hcl:"check_interval,optional"`
	CheckTimeout    string `hcl:"check_timeout,optional"`
	DeregisterAfter string `hcl:"deregister_after,optional"`
	CAFile          string `hcl:"ca_file,optional"`
	CertFile        string `hcl:"cert_file,optional"`
	KeyFile         string `hcl:"key_file,optional"`
}

// Auth configures one login method: "local" (API keys for the users of
// the system user database), "ldap" (passwords checked by an LDAP
// directory) or "oidc" (guests). The method's own settings stay in Body and
// are decoded by the agent when it builds the method.
type Auth struct {
	Method string   `hcl:"method,label"`
	Body   hcl.Body `hcl:",remain"`
}

// Guests configures users who log in through OIDC: an admin must activate
// each one; they run as one system user, each with their own home.
type Guests struct {
	// User is the system user every guest's jobs run as.
	User string `hcl:"user"`
	// HomeRoot holds one home directory per guest ("/srv/god/guests").
	HomeRoot  string `hcl:"home_root"`
	AllowRoot bool   `hcl:"allow_root,optional"`
}

// Images restricts which images jobs may use.
type Images struct {
	// Allowed lists images or patterns ("debian:*", "registry.site/*").
	Allowed []string `hcl:"allowed,optional"`
	// AllowUserImages lets users run images outside Allowed.
	AllowUserImages *bool `hcl:"allow_user_images,optional"`
}

// Scheduler chooses the policy that orders pending jobs: "fifo" (the
// default), "fairshare", or the name of a plugin in plugin_dir.
type Scheduler struct {
	Name string `hcl:"name,label"`
	// Config is passed to a plugin when it starts.
	Config map[string]string `hcl:"config,optional"`
	// Timeout bounds each call to a plugin ("5s"); one that does not
	// answer in time is killed and restarted.
	Timeout string `hcl:"timeout,optional"`
	// HalfLife is how fast past usage fades for fair share ("7d").
	HalfLife string `hcl:"half_life,optional"`
	// MemoryWeight converts memory into cores for usage: core-seconds per
	// GiB-second (0.25: 4 GiB weigh like a core).
	MemoryWeight *float64 `hcl:"memory_weight,optional"`
	// GPUWeight converts GPUs into cores likewise: core-seconds per
	// GPU-second (10: a GPU weighs like ten cores, as GPU nodes commonly
	// have about ten cores per GPU; Slurm's TRESBillingWeights idea).
	GPUWeight *float64 `hcl:"gpu_weight,optional"`

	// HalfLifeDuration is HalfLife parsed by Finalize.
	HalfLifeDuration time.Duration
	// TimeoutDuration is Timeout parsed by Finalize.
	TimeoutDuration time.Duration
}

// DefaultGPUWeight is scheduler.gpu_weight unless set: one GPU-second
// counts as ten core-seconds of usage.
const DefaultGPUWeight = 10.0

// BuiltinSchedulers are the policies compiled into the agent; any other
// scheduler name is a plugin's.
var BuiltinSchedulers = []string{"fifo", "fairshare", "godocker"}

// schedulerName is a plugin's name: it becomes part of a file name.
var schedulerName = lazy.Regexp(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Store says where the agent keeps jobs, accounts and the audit log:
// "sqlite" (the default: an embedded database in <data_dir>/store) or
// "redis" (a server several agents can share). The other fields are the
// Redis store's.
type Store struct {
	Backend  string `hcl:"backend,label"`
	Address  string `hcl:"address,optional"`
	Username string `hcl:"username,optional"`
	// Password, or PasswordFile naming a file that holds it; never logged.
	Password        string `hcl:"password,optional"`
	PasswordFile    string `hcl:"password_file,optional"`
	DB              int    `hcl:"db,optional"`
	Prefix          string `hcl:"prefix,optional"`
	TLS             bool   `hcl:"tls,optional"`
	TLSCAFile       string `hcl:"tls_ca_file,optional"`
	AllowNonDurable bool   `hcl:"allow_non_durable,optional"`

	// LockTTL is how long the agent lock of a Redis store outlives an agent
	// that stopped refreshing it; 0 is the default. Set by tests, not files.
	LockTTL time.Duration
}

// Nomad configures the Nomad executor: each job becomes a Nomad batch job
// on the docker driver. See website/content/docs/nomad.md.
type Nomad struct {
	Address          string   `hcl:"address,optional"`
	Token            string   `hcl:"token,optional"`
	Region           string   `hcl:"region,optional"`
	Namespace        string   `hcl:"namespace,optional"`
	Datacenters      []string `hcl:"datacenters,optional"`
	NodePool         string   `hcl:"node_pool,optional"`
	Instance         string   `hcl:"instance,optional"`
	PlacementTimeout string   `hcl:"placement_timeout,optional"`
	UIURL            string   `hcl:"ui_url,optional"`
	JobURL           string   `hcl:"job_url,optional"`
	KillTimeout      string   `hcl:"kill_timeout,optional"`
	CPUMHzPerCore    int      `hcl:"cpu_mhz_per_core,optional"`
	PidsLimit        int64    `hcl:"pids_limit,optional"`
	Priority         int      `hcl:"priority,optional"`
	CACert           string   `hcl:"ca_cert,optional"`
	ClientCert       string   `hcl:"client_cert,optional"`
	ClientKey        string   `hcl:"client_key,optional"`
	TLSServerName    string   `hcl:"tls_server_name,optional"`

	// Parsed by Finalize.
	PlacementTimeoutDuration time.Duration
	KillTimeoutDuration      time.Duration
}

// Swarm configures the Swarm executor: each job becomes a one-replica
// service, never restarted, on a Swarm cluster. See
// website/content/docs/swarm.md.
type Swarm struct {
	// Address of a manager's engine (default the local engine's socket).
	Address  string  `hcl:"address,optional"`
	Instance string  `hcl:"instance,optional"`
	CPU      float64 `hcl:"cpu,optional"`
	Memory   string  `hcl:"memory,optional"`
	// GPUResource is the nodes' generic resource kind for GPUs
	// (default "NVIDIA-GPU").
	GPUResource string   `hcl:"gpu_resource,optional"`
	Constraints []string `hcl:"constraints,optional"`
	PidsLimit   int64    `hcl:"pids_limit,optional"`
	// NNPHelper is god-nnp on every node, for engines that cannot set
	// no-new-privileges on a service (before Docker 25).
	NNPHelper    string `hcl:"nnp_helper,optional"`
	StartTimeout string `hcl:"start_timeout,optional"`
	PollInterval string `hcl:"poll_interval,optional"`

	// Parsed by Finalize.
	MemoryBytes          int64
	StartTimeoutDuration time.Duration
	PollIntervalDuration time.Duration
}

// Docker configures the local Docker executor.
type Docker struct {
	Address  string  `hcl:"address,optional"`
	Instance string  `hcl:"instance,optional"`
	CPU      float64 `hcl:"cpu,optional"`
	Memory   string  `hcl:"memory,optional"`
	// GPUs is how many NVIDIA GPUs the engine's host offers jobs (0: none;
	// the engine does not report them). Jobs get theirs through the
	// engine's NVIDIA device request, as `docker run --gpus N`.
	GPUs int `hcl:"gpus,optional"`
	// MemoryBytes is Memory parsed by Finalize.
	MemoryBytes int64
}

// Quota caps what each user may run at once, and the core-hours each may
// use over a sliding window; jobs beyond wait, pending, with the reason
// (or end, as Go-Docker's "quota reached"). 0 or "" means no cap. Projects
// carry quotas of their own (set by admins on the project).
type Quota struct {
	RunningCPU    float64 `hcl:"running_cpu,optional"`
	RunningMemory string  `hcl:"running_memory,optional"`
	RunningJobs   int     `hcl:"running_jobs,optional"`
	RunningGPUs   int     `hcl:"running_gpus,optional"`
	// CPUHours caps the core-hours (cores times hours run) of a user's
	// jobs that ended within the last Window.
	CPUHours float64 `hcl:"cpu_hours,optional"`
	Window   string  `hcl:"window,optional"`
	// WhenExceeded is what happens to a job whose owner or project is past
	// a cpu_hours quota: "hold" it pending until old usage leaves the
	// window, or "end" it over/"quota reached" as Go-Docker did.
	WhenExceeded string `hcl:"when_exceeded,optional"`

	// Parsed by Finalize.
	RunningMemoryBytes int64
	WindowDuration     time.Duration
}

// Defaults apply to jobs that do not say.
type Defaults struct {
	Image  string  `hcl:"image,optional"`
	CPU    float64 `hcl:"cpu,optional"`
	Memory string  `hcl:"memory,optional"`
	// MaxLifespan kills jobs that run longer, unless they say otherwise.
	MaxLifespan string `hcl:"max_lifespan,optional"`
	// KillTimeout is how long a stopped job may take to end after SIGTERM
	// before SIGKILL, unless it says otherwise.
	KillTimeout string `hcl:"kill_timeout,optional"`

	// Parsed by Finalize.
	MemoryBytes     int64
	Lifespan        time.Duration
	KillTimeoutTime time.Duration
}

// Volume is a host path users may ask for by name.
type Volume struct {
	Name string `hcl:"name,label"`
	// Path on the host; $USER, $UID and $HOME are replaced by the job owner's.
	Path string `hcl:"path"`
	// Mount point in the container; defaults to Path.
	Mount    string `hcl:"mount,optional"`
	ReadOnly bool   `hcl:"read_only,optional"`
	// Users, Groups and Projects say who may mount it: a user listed, a
	// member of a group listed, or a job of a project listed. All empty:
	// everyone.
	Users    []string `hcl:"users,optional"`
	Groups   []string `hcl:"groups,optional"`
	Projects []string `hcl:"projects,optional"`
}

// DefaultSocket is where the system agent listens.
const DefaultSocket = "/run/god/god.sock"

// DevDataDir is the dev agent's default data dir; the CLI looks for its socket there.
const DevDataDir = "/tmp/god-dev"

// Default returns the configuration of a system agent.
func Default() *Config {
	return &Config{
		DataDir:        "/var/lib/god",
		LogLevel:       "info",
		HTTP:           &HTTP{Address: "127.0.0.1", Port: 6543},
		Docker:         &Docker{Address: "unix:///var/run/docker.sock", Instance: "god"},
		Defaults:       &Defaults{Image: "debian:bookworm-slim", CPU: 1, Memory: "1GiB", MaxLifespan: "7d", KillTimeout: "10s"},
		Sessions:       &Sessions{MaxPerJob: 4, IdleTimeout: "1h"},
		MaxKillTimeout: "5m",

		UnsatisfiableDependencies: "end",
		MaxRetries:                new(3),
		UpdatableFields:           []string{"max_lifespan", "throttle"},
		MaxPending:                10000,
		ArchiveAfter:              "30d",
		TokenTTL:                  "12h",
	}
}

// Dev returns the configuration of `god agent -dev`: everything in one
// process, data under /tmp/god-dev, the TCP API on loopback.
func Dev() *Config {
	c := Default()
	c.Dev = true
	c.DataDir = DevDataDir
	c.HTTP.Enabled = true
	c.AllowRoot = true // a developer's machine: root may run jobs
	c.LogLevel = "debug"
	return c
}

// Load parses one HCL file over base.
func Load(path string, base *Config) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading agent config: %w", err)
	}
	return Parse(path, src, base)
}

// Parse decodes HCL source over base (nil means Default()). Blocks replace
// the base's blocks attribute by attribute: an attribute left out keeps its
// default.
func Parse(filename string, src []byte, base *Config) (*Config, error) {
	if base == nil {
		base = Default()
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(filename, ".json") {
		f, diags = p.ParseJSON(src, filename)
	} else {
		f, diags = p.ParseHCL(src, filename)
	}
	if diags.HasErrors() {
		return nil, diagError(p, diags)
	}
	var file Config
	if diags := gohcl.DecodeBody(f.Body, nil, &file); diags.HasErrors() {
		return nil, diagError(p, diags)
	}
	return merge(base, &file, explicitBools(f.Body)), nil
}

// setBools records which attributes whose zero value means something a
// file sets: left out, they keep the value below; set to false or 0, they
// turn the setting off.
type setBools struct {
	allowRoot, httpEnabled, avoidFailedNodes bool
	maxPending, maxPendingPerUser            bool
	shareProjectJobs                         bool
}

func explicitBools(body hcl.Body) setBools {
	var set setBools
	content, _, _ := body.PartialContent(&hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "allow_root"}, {Name: "avoid_failed_nodes"}, {Name: "max_pending"}, {Name: "max_pending_per_user"}, {Name: "share_project_jobs"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "http"}},
	})
	_, set.allowRoot = content.Attributes["allow_root"]
	_, set.avoidFailedNodes = content.Attributes["avoid_failed_nodes"]
	_, set.maxPending = content.Attributes["max_pending"]
	_, set.maxPendingPerUser = content.Attributes["max_pending_per_user"]
	_, set.shareProjectJobs = content.Attributes["share_project_jobs"]
	for _, b := range content.Blocks {
		hc, _, _ := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "enabled"}}})
		if _, ok := hc.Attributes["enabled"]; ok {
			set.httpEnabled = true
		}
	}
	return set
}

func diagError(p *hclparse.Parser, diags hcl.Diagnostics) error {
	var b strings.Builder
	w := hcl.NewDiagnosticTextWriter(&b, p.Files(), 100, false)
	_ = w.WriteDiagnostics(diags)
	return fmt.Errorf("invalid agent config:\n%s", strings.TrimRight(b.String(), "\n"))
}

func merge(base, f *Config, explicit setBools) *Config {
	c := *base
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.DataDir, f.DataDir)
	set(&c.SharedDir, f.SharedDir)
	set(&c.Socket, f.Socket)
	set(&c.LogLevel, f.LogLevel)
	set(&c.UnsatisfiableDependencies, f.UnsatisfiableDependencies)
	set(&c.ArchiveAfter, f.ArchiveAfter)
	set(&c.PluginDir, f.PluginDir)
	set(&c.MaxKillTimeout, f.MaxKillTimeout)
	if explicit.avoidFailedNodes {
		c.AvoidFailedNodes = f.AvoidFailedNodes
	}
	if f.MaxRetries != nil {
		c.MaxRetries = f.MaxRetries
	}
	if explicit.maxPendingPerUser {
		c.MaxPendingPerUser = f.MaxPendingPerUser
	}
	if explicit.maxPending {
		c.MaxPending = f.MaxPending
	}
	if f.UpdatableFields != nil {
		c.UpdatableFields = f.UpdatableFields
	}
	if explicit.allowRoot {
		c.AllowRoot = f.AllowRoot
	}
	set(&c.TokenTTL, f.TokenTTL)
	if f.Admins != nil {
		c.Admins = f.Admins
	}
	if f.AdminGroups != nil {
		c.AdminGroups = f.AdminGroups
	}
	if explicit.shareProjectJobs {
		c.ShareProjectJobs = f.ShareProjectJobs
	}
	c.Auth = append(append([]*Auth(nil), base.Auth...), f.Auth...)
	if f.Guests != nil {
		g := *f.Guests
		c.Guests = &g
	}
	if f.Images != nil {
		im := *f.Images
		c.Images = &im
	}
	if f.Quota != nil {
		q := *f.Quota
		c.Quota = &q
	}
	if f.Scheduler != nil {
		sc := *f.Scheduler
		c.Scheduler = &sc
	}
	if f.Store != nil {
		st := *f.Store
		c.Store = &st
	}
	if f.HTTP != nil {
		h := *c.HTTP
		if explicit.httpEnabled {
			h.Enabled = f.HTTP.Enabled
		}
		set(&h.Address, f.HTTP.Address)
		if f.HTTP.Port != 0 {
			h.Port = f.HTTP.Port
		}
		set(&h.TLSCert, f.HTTP.TLSCert)
		set(&h.TLSKey, f.HTTP.TLSKey)
		set(&h.PublicURL, f.HTTP.PublicURL)
		set(&h.TLSCAFile, f.HTTP.TLSCAFile)
		c.HTTP = &h
	}
	if f.Roles != nil {
		c.Roles = f.Roles
	}
	if f.Consul != nil {
		cc := *f.Consul
		c.Consul = &cc
	}
	set(&c.Executor, f.Executor)
	if f.Nomad != nil {
		n := *f.Nomad
		c.Nomad = &n
	}
	if f.Swarm != nil {
		w := *f.Swarm
		c.Swarm = &w
	}
	if f.Docker != nil {
		d := *c.Docker
		set(&d.Address, f.Docker.Address)
		set(&d.Instance, f.Docker.Instance)
		set(&d.Memory, f.Docker.Memory)
		if f.Docker.CPU != 0 {
			d.CPU = f.Docker.CPU
		}
		if f.Docker.GPUs != 0 {
			d.GPUs = f.Docker.GPUs
		}
		c.Docker = &d
	}
	if f.Defaults != nil {
		d := *c.Defaults
		set(&d.Image, f.Defaults.Image)
		set(&d.Memory, f.Defaults.Memory)
		set(&d.MaxLifespan, f.Defaults.MaxLifespan)
		set(&d.KillTimeout, f.Defaults.KillTimeout)
		if f.Defaults.CPU != 0 {
			d.CPU = f.Defaults.CPU
		}
		c.Defaults = &d
	}
	if f.Sessions != nil {
		ss := *c.Sessions
		set(&ss.IdleTimeout, f.Sessions.IdleTimeout)
		if f.Sessions.MaxPerJob != 0 {
			ss.MaxPerJob = f.Sessions.MaxPerJob
		}
		c.Sessions = &ss
	}
	c.Volumes = append(append([]*Volume(nil), base.Volumes...), f.Volumes...)
	return &c
}

var volumeName = lazy.Regexp(`^[a-z][a-z0-9_-]{0,63}$`)

// Finalize fills derived values and checks the configuration as a whole,
// reporting every problem at once.
func (c *Config) Finalize() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if !filepath.IsAbs(c.DataDir) {
		bad("data_dir must be an absolute path, got %q", c.DataDir)
	}
	if c.SharedDir == "" {
		c.SharedDir = filepath.Join(c.DataDir, "shared")
	} else if !filepath.IsAbs(c.SharedDir) {
		bad("shared_dir must be an absolute path, got %q", c.SharedDir)
	}
	if c.Socket == "" {
		if c.Dev {
			c.Socket = filepath.Join(c.DataDir, "god.sock")
		} else {
			c.Socket = DefaultSocket
		}
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("log_level must be one of trace, debug, info, warn, error; got %q", c.LogLevel)
	}
	if h := c.HTTP; h.Enabled && !c.Dev && (h.TLSCert == "") && !isLoopback(h.Address) {
		bad("http: address %q is not loopback, so the API needs TLS: set tls_cert and tls_key (or listen on 127.0.0.1 behind a TLS proxy)", h.Address)
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		bad("http: tls_cert and tls_key go together; set both or neither")
	}
	if lt, err := jobspec.ParseLifespan(c.TokenTTL); err != nil {
		bad("token_ttl: %v", err)
	} else if lt < time.Minute || lt > 30*24*time.Hour {
		bad("token_ttl must be between 1m and 30d, got %q", c.TokenTTL)
	} else {
		c.TokenLifetime = lt
	}
	methods := map[string]bool{}
	for _, a := range c.Auth {
		switch a.Method {
		case "local", "ldap", "oidc", "pam":
		default:
			bad(`auth %q: the methods are "local", "ldap", "pam" and "oidc"`, a.Method)
		}
		if methods[a.Method] {
			bad("auth %q is configured twice", a.Method)
		}
		methods[a.Method] = true
	}
	if methods["oidc"] && c.Guests == nil {
		bad(`auth "oidc" admits guests: add a guests block (user, home_root) saying who they run as`)
	}
	if g := c.Guests; g != nil {
		if g.User == "" || g.User == "root" {
			bad("guests.user must name an unprivileged system user, got %q", g.User)
		}
		if !filepath.IsAbs(g.HomeRoot) {
			bad("guests.home_root must be an absolute path, got %q", g.HomeRoot)
		}
	}
	if c.Images == nil {
		c.Images = &Images{}
	}
	if c.Images.AllowUserImages == nil {
		c.Images.AllowUserImages = new(len(c.Images.Allowed) == 0)
	}
	for _, p := range c.Images.Allowed {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			bad("images.allowed: %q is not a valid pattern", p)
		}
	}
	if !*c.Images.AllowUserImages && len(c.Images.Allowed) == 0 {
		bad("images: allow_user_images = false needs at least one allowed image")
	}
	if c.HTTP.Port < 1 || c.HTTP.Port > 65535 {
		bad("http.port must be between 1 and 65535, got %d", c.HTTP.Port)
	}
	if c.Docker.GPUs < 0 {
		bad("docker.gpus must be 0 (no GPUs) or more, got %d", c.Docker.GPUs)
	}
	if c.Docker.Memory != "" {
		n, err := jobspec.ParseMemory(c.Docker.Memory)
		if err != nil {
			bad("docker.memory: %v", err)
		}
		c.Docker.MemoryBytes = n
	}
	if c.Defaults.CPU <= 0 {
		bad("defaults.cpu must be greater than 0, got %v", c.Defaults.CPU)
	}
	n, err := jobspec.ParseMemory(c.Defaults.Memory)
	if err != nil {
		bad("defaults.memory: %v", err)
	} else if n < jobspec.MinMemory {
		bad("defaults.memory must be at least %d MiB (the engine's minimum), got %q", jobspec.MinMemory>>20, c.Defaults.Memory)
	}
	c.Defaults.MemoryBytes = n
	if c.Defaults.Lifespan, err = jobspec.ParseLifespan(c.Defaults.MaxLifespan); err != nil {
		bad("defaults.max_lifespan: %v", err)
	}
	if c.Sessions.MaxPerJob < 1 {
		bad("sessions.max_per_job must be 1 or more, got %d", c.Sessions.MaxPerJob)
	}
	if c.Sessions.Idle, err = time.ParseDuration(c.Sessions.IdleTimeout); err != nil || c.Sessions.Idle <= 0 {
		bad(`sessions.idle_timeout must be a positive duration such as "1h", got %q`, c.Sessions.IdleTimeout)
	}
	if c.MaxKillTimeoutTime, err = jobspec.ParseKillTimeout(c.MaxKillTimeout); err != nil {
		bad("max_kill_timeout: %v", err)
	}
	if c.Defaults.KillTimeoutTime, err = jobspec.ParseKillTimeout(c.Defaults.KillTimeout); err != nil {
		bad("defaults.kill_timeout: %v", err)
	} else if c.Defaults.KillTimeoutTime > c.MaxKillTimeoutTime {
		bad("defaults.kill_timeout %q is longer than max_kill_timeout %q", c.Defaults.KillTimeout, c.MaxKillTimeout)
	}
	if c.MaxRetries == nil {
		c.MaxRetries = new(0)
	}
	if *c.MaxRetries < 0 || *c.MaxRetries > jobspec.MaxRetries {
		bad("max_retries must be between 0 and %d, got %d", jobspec.MaxRetries, *c.MaxRetries)
	}
	c.ArchiveAge = 0
	if c.ArchiveAfter != "off" {
		if c.ArchiveAge, err = jobspec.ParseLifespan(c.ArchiveAfter); err != nil {
			bad(`archive_after: %v (or "off" to keep job directories)`, err)
		}
	}
	if c.MaxPendingPerUser < 0 || c.MaxPending < 0 {
		bad("max_pending_per_user and max_pending must be 0 (no cap) or positive")
	}
	for _, f := range c.UpdatableFields {
		if f != "max_lifespan" && f != "throttle" {
			bad("updatable_fields: %q cannot be updated; the fields that can are max_lifespan and throttle", f)
		}
	}
	if c.Quota == nil {
		c.Quota = &Quota{}
	}
	if q := c.Quota; q.RunningCPU < 0 || q.RunningJobs < 0 || q.RunningGPUs < 0 || q.CPUHours < 0 {
		bad("quota: running_cpu, running_jobs, running_gpus and cpu_hours must be 0 (no cap) or positive")
	} else if q.RunningMemory != "" {
		if q.RunningMemoryBytes, err = jobspec.ParseMemory(q.RunningMemory); err != nil {
			bad("quota.running_memory: %v", err)
		}
	}
	if q := c.Quota; true {
		if q.Window == "" {
			q.Window = "30d"
		}
		if q.WindowDuration, err = jobspec.ParseLifespan(q.Window); err != nil {
			bad("quota.window: %v", err)
		}
		switch q.WhenExceeded {
		case "":
			q.WhenExceeded = "hold"
		case "hold", "end":
		default:
			bad(`quota.when_exceeded must be "hold" or "end", got %q`, q.WhenExceeded)
		}
	}
	if c.Scheduler == nil {
		c.Scheduler = &Scheduler{Name: "fifo"}
	}
	if c.PluginDir == "" {
		c.PluginDir = filepath.Join(c.DataDir, "plugins")
	} else if !filepath.IsAbs(c.PluginDir) {
		bad("plugin_dir must be an absolute path, got %q", c.PluginDir)
	}
	// The ledger behind `god usage` runs under every policy.
	sc := c.Scheduler
	if sc.HalfLife == "" {
		sc.HalfLife = "7d"
	}
	if sc.HalfLifeDuration, err = jobspec.ParseLifespan(sc.HalfLife); err != nil {
		bad("scheduler.half_life: %v", err)
	}
	if sc.MemoryWeight == nil {
		sc.MemoryWeight = new(0.25)
	}
	if *sc.MemoryWeight < 0 {
		bad("scheduler.memory_weight must be 0 or more, got %g", *sc.MemoryWeight)
	}
	if sc.GPUWeight == nil {
		sc.GPUWeight = new(DefaultGPUWeight)
	}
	if *sc.GPUWeight < 0 {
		bad("scheduler.gpu_weight must be 0 or more, got %g", *sc.GPUWeight)
	}
	if sc.Timeout == "" {
		sc.Timeout = "5s"
	}
	if sc.TimeoutDuration, err = time.ParseDuration(sc.Timeout); err != nil || sc.TimeoutDuration <= 0 {
		bad(`scheduler.timeout must be a positive duration such as "5s" or "500ms", got %q`, sc.Timeout)
	}
	switch {
	case sc.Name == "godocker":
		if _, err := godocker.ParseWeights(sc.Config); err != nil {
			bad(`scheduler "godocker": config: %v`, err)
		}
	case slices.Contains(BuiltinSchedulers, sc.Name):
		if len(sc.Config) > 0 {
			bad("scheduler %q: config is for plugins and godocker's weights; fifo and fairshare take none", sc.Name)
		}
	case !schedulerName().MatchString(sc.Name):
		bad(`scheduler %q: the built-in policies are "fifo", "fairshare" and "godocker"; a plugin's name uses lower-case letters, digits, '-' and '_' (no path: the plugin is <plugin_dir>/god-scheduler-<name>)`, sc.Name)
	}
	switch c.Executor {
	case "", "docker":
		c.Executor = "docker"
	case "nomad":
		if c.Nomad == nil {
			c.Nomad = &Nomad{}
		}
	case "swarm":
		if c.Swarm == nil {
			c.Swarm = &Swarm{}
		}
	default:
		bad(`executor must be "docker", "nomad" or "swarm", got %q`, c.Executor)
	}
	if w := c.Swarm; w != nil {
		errs = append(errs, w.finalize(c.Docker.Instance)...)
	}
	if n := c.Nomad; n != nil {
		for _, d := range []struct {
			name, v string
			dst     *time.Duration
		}{{"nomad.placement_timeout", n.PlacementTimeout, &n.PlacementTimeoutDuration}, {"nomad.kill_timeout", n.KillTimeout, &n.KillTimeoutDuration}} {
			if d.v == "" {
				continue
			}
			if *d.dst, err = time.ParseDuration(d.v); err != nil || *d.dst <= 0 {
				bad(`%s must be a positive duration such as "5m", got %q`, d.name, d.v)
			}
		}
		if n.Instance == "" {
			n.Instance = c.Docker.Instance
		}
		if n.JobURL != "" && !strings.Contains(n.JobURL, "{id}") {
			bad(`nomad.job_url must contain {id} (the GoDocker job id), got %q`, n.JobURL)
		}
	}
	switch c.UnsatisfiableDependencies {
	case "end", "hold":
	default:
		bad(`unsatisfiable_dependencies must be "end" or "hold", got %q`, c.UnsatisfiableDependencies)
	}
	errs = append(errs, c.finalizeStore()...)
	errs = append(errs, c.finalizeCluster()...)
	seen := map[string]bool{"home": true}
	for _, v := range c.Volumes {
		if seen[v.Name] && v.Name != "home" {
			bad("volume %q is defined twice", v.Name)
		}
		seen[v.Name] = true
		errs = append(errs, CheckVolume(v)...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid agent config:\n  * %s", strings.Join(errs, "\n  * "))
	}
	return nil
}

// storePrefix is what a Redis key prefix may hold: printable, no spaces,
// so that keys stay easy to read and to select with redis-cli --scan.
var storePrefix = lazy.Regexp(`^[A-Za-z0-9_.:/-]{1,64}$`)

// finalizeStore checks the store block, defaulting to SQLite.
func (c *Config) finalizeStore() []string {
	if c.Store == nil {
		c.Store = &Store{Backend: "sqlite"}
	}
	s := c.Store
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	switch s.Backend {
	case "sqlite":
		if s.Address != "" || s.Username != "" || s.Password != "" || s.PasswordFile != "" || s.DB != 0 ||
			s.Prefix != "" || s.TLS || s.TLSCAFile != "" || s.AllowNonDurable {
			bad(`store "sqlite" has no settings (it is <data_dir>/store): remove them, or write store "redis" to use Redis`)
		}
		return errs
	case "redis":
	default:
		bad(`store %q: the backends are "sqlite" (the default) and "redis"`, s.Backend)
		return errs
	}
	if s.Address == "" {
		bad(`store "redis": address is required, e.g. address = "10.0.0.5:6379"`)
	} else if host, port, err := net.SplitHostPort(s.Address); err != nil || host == "" {
		bad(`store "redis": address %q must be host:port, e.g. "10.0.0.5:6379"`, s.Address)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		bad(`store "redis": address %q: the port must be 1 to 65535`, s.Address)
	}
	if s.Password != "" && s.PasswordFile != "" {
		bad(`store "redis": set password or password_file, not both`)
	}
	if s.PasswordFile != "" && !filepath.IsAbs(s.PasswordFile) {
		bad(`store "redis": password_file must be an absolute path, got %q`, s.PasswordFile)
	}
	if s.DB < 0 {
		bad(`store "redis": db must be 0 or more, got %d`, s.DB)
	}
	if s.Prefix == "" {
		s.Prefix = "god:"
	} else if !storePrefix().MatchString(s.Prefix) {
		bad(`store "redis": prefix %q must be 1 to 64 letters, digits and "_.:/-"`, s.Prefix)
	}
	if s.TLSCAFile != "" {
		if !s.TLS {
			bad(`store "redis": tls_ca_file is set but tls is not: set tls = true`)
		}
		if !filepath.IsAbs(s.TLSCAFile) {
			bad(`store "redis": tls_ca_file must be an absolute path, got %q`, s.TLSCAFile)
		}
	}
	return errs
}

func isLoopback(addr string) bool {
	if addr == "localhost" {
		return true
	}
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsLoopback()
}

// CheckVolume checks one volume definition (from a volume block, or made by
// an admin through the API) and fills its default mount point. It returns
// every problem, each naming the volume and the fix.
func CheckVolume(v *Volume) []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	switch {
	case v.Name == "home":
		bad(`volume "home": the name is reserved for the user's home directory; choose another name`)
	case !volumeName().MatchString(v.Name):
		bad("volume %q: names use lower-case letters, digits, '-' and '_', starting with a letter", v.Name)
	}
	// $HOME stands for an absolute path, so "$HOME/data" is absolute.
	if !filepath.IsAbs(strings.NewReplacer("${HOME}", "/home", "$HOME", "/home").Replace(v.Path)) {
		bad("volume %q: path must be absolute (it may start with $HOME), got %q", v.Name, v.Path)
	}
	if v.Mount == "" {
		v.Mount = v.Path
	}
	if !filepath.IsAbs(v.Mount) || strings.Contains(v.Mount, "$") {
		bad("volume %q: mount must be an absolute container path without variables, got %q", v.Name, v.Mount)
	}
	if ExposesDockerSocket(v.Path) {
		bad("volume %q: path %q would expose the Docker socket, which is root on the host; choose a narrower path", v.Name, v.Path)
	}
	if ReservedMount(v.Mount) {
		bad("volume %q: mount %q would hide a path GoDocker or the system needs (%s); choose another", v.Name, v.Mount, strings.Join(reservedMounts, ", "))
	}
	return errs
}

// ExposesDockerSocket reports whether a host path is, or contains, the
// engine's socket.
func ExposesDockerSocket(path string) bool {
	p := filepath.Clean(path)
	for _, sock := range []string{"/var/run/docker.sock", "/run/docker.sock"} {
		if p == sock || p == "/" || strings.HasPrefix(sock, p+"/") {
			return true
		}
	}
	return false
}

// reservedMounts are container paths no volume may cover.
var reservedMounts = []string{"/", "/etc", "/proc", "/sys", "/dev", "/mnt/go-docker", "/bin", "/usr", "/lib"}

// ReservedMount reports whether a container path is, or is under, one no
// volume may cover.
func ReservedMount(p string) bool {
	p = filepath.Clean(p)
	for _, r := range reservedMounts {
		if p == r || (r != "/" && strings.HasPrefix(p, r+"/")) {
			return true
		}
	}
	return false
}
