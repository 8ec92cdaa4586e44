package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/shoenig/test/must"
)

// The annotated example at the repository root must stay valid: it is the
// reference users copy from.
func TestExampleHCL(t *testing.T) {
	cfg, err := Load("../../example.hcl", Default())
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())

	must.Eq(t, "/var/lib/god", cfg.DataDir)
	must.Eq(t, "/var/lib/god/shared", cfg.SharedDir)
	must.Eq(t, DefaultSocket, cfg.Socket)
	must.Eq(t, "info", cfg.LogLevel)
	must.False(t, cfg.AllowRoot)
	must.False(t, cfg.Dev)

	must.True(t, cfg.HTTP.Enabled)
	must.Eq(t, "0.0.0.0", cfg.HTTP.Address)
	must.Eq(t, 6543, cfg.HTTP.Port)
	must.Eq(t, []string{"api", "scheduler", "watcher"}, cfg.Roles)
	must.Eq(t, "god-1", cfg.Cluster.NodeName)
	must.Eq(t, "10.0.0.5:6543", cfg.Cluster.Advertise)
	must.Eq(t, "/etc/god/consul-token", cfg.Cluster.TokenFile)
	must.Eq(t, 15*time.Second, cfg.Cluster.SessionTTL)
	must.Eq(t, 5*time.Second, cfg.Cluster.LockDelay)
	must.Eq(t, 10*time.Second, cfg.Cluster.CheckTTL)

	must.Eq(t, "unix:///var/run/docker.sock", cfg.Docker.Address)
	must.Eq(t, "god", cfg.Docker.Instance)
	must.Eq(t, 0, cfg.Docker.CPU)
	must.Eq(t, 0, cfg.Docker.MemoryBytes)

	must.Eq(t, "debian:bookworm-slim", cfg.Defaults.Image)
	must.Eq(t, 1, cfg.Defaults.CPU)
	must.Eq(t, 1<<30, cfg.Defaults.MemoryBytes)

	must.SliceLen(t, 3, cfg.Volumes)
	byName := map[string]*Volume{}
	for _, v := range cfg.Volumes {
		byName[v.Name] = v
	}
	must.Eq(t, &Volume{Name: "scratch", Path: "/scratch/$USER", Mount: "/scratch", Users: []string{}, Groups: []string{"god-lab"}, Projects: []string{}}, byName["scratch"])
	must.Eq(t, &Volume{Name: "cache", Path: "/var/cache/god/$UID", Mount: "/cache"}, byName["cache"])
	// mount defaults to path.
	must.Eq(t, &Volume{Name: "reference", Path: "/data/reference", Mount: "/data/reference", ReadOnly: true}, byName["reference"])

	must.Eq(t, []string{"alice"}, cfg.Admins)
	must.Eq(t, []string{"god-admins"}, cfg.AdminGroups)
	must.Eq(t, 12*time.Hour, cfg.TokenLifetime)
	must.SliceLen(t, 3, cfg.Auth)
	must.Eq(t, "god-guest", cfg.Guests.User)
	must.False(t, *cfg.Images.AllowUserImages)
	must.Eq(t, &Store{Backend: "redis", Address: "redis.example.org:6379", Username: "god", PasswordFile: "/etc/god/redis-password",
		Prefix: "god:", TLS: true, TLSCAFile: "/etc/god/redis-ca.pem"}, cfg.Store)
}

// Every attribute and block of Config appears in example.hcl, so that a new
// field cannot be added without documenting it there.
func TestExampleHCL_documentsEveryField(t *testing.T) {
	src, err := os.ReadFile("../../example.hcl")
	must.NoError(t, err)
	f, diags := hclsyntax.ParseConfig(src, "example.hcl", hcl.InitialPos)
	must.False(t, diags.HasErrors(), must.Sprint(diags))
	checkDocumented(t, "example.hcl", []*hclsyntax.Body{f.Body.(*hclsyntax.Body)}, reflect.TypeFor[Config]())
}

// checkDocumented fails for every hcl-tagged field of struct type typ that
// none of bodies sets (a repeated block need not repeat every attribute), and
// recurses into the blocks.
func checkDocumented(t *testing.T, where string, bodies []*hclsyntax.Body, typ reflect.Type) {
	t.Helper()
	for i := range typ.NumField() {
		field := typ.Field(i)
		tag, ok := field.Tag.Lookup("hcl")
		if !ok {
			continue
		}
		name, kind, _ := strings.Cut(tag, ",")
		switch kind {
		case "label", "remain":
		case "block":
			elem := field.Type
			for elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice {
				elem = elem.Elem()
			}
			var blocks []*hclsyntax.Body
			for _, body := range bodies {
				for _, b := range body.Blocks {
					if b.Type == name {
						blocks = append(blocks, b.Body)
					}
				}
			}
			must.SliceNotEmpty(t, blocks, must.Sprintf("%s: no %s block", where, name))
			checkDocumented(t, where+" "+name+" block", blocks, elem)
		default:
			set := false
			for _, body := range bodies {
				_, ok := body.Attributes[name]
				set = set || ok
			}
			must.True(t, set, must.Sprintf("%s does not set %s", where, name))
		}
	}
}

func TestFinalize_errors(t *testing.T) {
	cases := []struct {
		name string
		hcl  string
		want string
	}{
		{
			name: "consul without redis",
			hcl:  "http {\n enabled = true\n}\nconsul {\n advertise = \"10.0.0.5:6543\"\n}",
			want: `consul: the agents of a cluster share their jobs through a store "redis" block`,
		},
		{
			name: "consul without http",
			hcl:  "store \"redis\" {\n address = \"r:6379\"\n}\nconsul {\n advertise = \"10.0.0.5:6543\"\n}",
			want: `consul: the agents of a cluster talk to each other over HTTP: set http { enabled = true }`,
		},
		{
			name: "consul without advertise",
			hcl:  "store \"redis\" {\n address = \"r:6379\"\n}\nhttp {\n enabled = true\n}\nconsul {}",
			want: `consul: advertise is required`,
		},
		{
			name: "consul bad advertise",
			hcl:  "store \"redis\" {\n address = \"r:6379\"\n}\nhttp {\n enabled = true\n}\nconsul {\n advertise = \"0.0.0.0:6543\"\n}",
			want: `consul.advertise must be the host:port where others reach this agent's HTTP API`,
		},
		{
			name: "consul bad duration",
			hcl:  "store \"redis\" {\n address = \"r:6379\"\n}\nhttp {\n enabled = true\n}\nconsul {\n advertise = \"h:1\"\n session_ttl = \"soon\"\n}",
			want: `consul: session_ttl must be a positive duration such as "15s", got "soon"`,
		},
		{
			name: "consul session_ttl below Consul's minimum",
			hcl:  "store \"redis\" {\n address = \"r:6379\"\n}\nhttp {\n enabled = true\n}\nconsul {\n advertise = \"h:1\"\n session_ttl = \"2s\"\n}",
			want: `consul.session_ttl must be between 10s and 24h`,
		},
		{
			name: "unknown role",
			hcl:  `roles = ["api", "dispatcher"]`,
			want: `roles: unknown role "dispatcher"`,
		},
		{
			name: "roles without consul",
			hcl:  `roles = ["api"]`,
			want: `roles: an agent without a consul block does everything`,
		},
		{
			name: "relative data_dir",
			hcl:  `data_dir = "var/lib/god"`,
			want: `data_dir must be an absolute path, got "var/lib/god"`,
		},
		{
			name: "relative shared_dir",
			hcl:  `shared_dir = "shared"`,
			want: `shared_dir must be an absolute path, got "shared"`,
		},
		{
			name: "bad log_level",
			hcl:  `log_level = "verbose"`,
			want: `log_level must be one of trace, debug, info, warn, error; got "verbose"`,
		},
		{
			name: "negative docker gpus",
			hcl:  "docker {\n  gpus = -1\n}",
			want: "docker.gpus must be 0 (no GPUs) or more, got -1",
		},
		{
			name: "negative gpu_weight",
			hcl:  "scheduler \"fairshare\" {\n  gpu_weight = -2\n}",
			want: "scheduler.gpu_weight must be 0 or more, got -2",
		},
		{
			name: "negative running_gpus",
			hcl:  "quota {\n  running_gpus = -1\n}",
			want: "running_gpus and cpu_hours must be 0 (no cap) or positive",
		},
		{
			name: "bad docker memory",
			hcl:  "docker {\n  memory = \"lots\"\n}",
			want: "docker.memory: invalid memory size",
		},
		{
			name: "bad defaults memory",
			hcl:  "defaults {\n  memory = \"1Q\"\n}",
			want: "defaults.memory: invalid unit",
		},
		{
			name: "negative defaults cpu",
			hcl:  "defaults {\n  cpu = -1\n}",
			want: "defaults.cpu must be greater than 0, got -1",
		},
		{
			name: "volume named home",
			hcl:  "volume \"home\" {\n  path = \"/home/$USER\"\n  mount = \"/h\"\n}",
			want: `volume "home": the name is reserved`,
		},
		{
			name: "duplicate volume",
			hcl:  "volume \"data\" {\n  path = \"/data\"\n}\nvolume \"data\" {\n  path = \"/data2\"\n}",
			want: `volume "data" is defined twice`,
		},
		{
			name: "bad volume name",
			hcl:  "volume \"Data\" {\n  path = \"/data\"\n}",
			want: `volume "Data": names use lower-case letters, digits, '-' and '_', starting with a letter`,
		},
		{
			name: "relative volume path",
			hcl:  "volume \"data\" {\n  path = \"data\"\n  mount = \"/data\"\n}",
			want: `volume "data": path must be absolute (it may start with $HOME), got "data"`,
		},
		{
			name: "mount with a variable",
			hcl:  "volume \"scratch\" {\n  path = \"/scratch/$USER\"\n}",
			want: `volume "scratch": mount must be an absolute container path without variables, got "/scratch/$USER"`,
		},
		{
			name: "mount on /etc",
			hcl:  "volume \"conf\" {\n  path = \"/srv/conf\"\n  mount = \"/etc\"\n}",
			want: `volume "conf": mount "/etc" would hide a path`,
		},
		{
			name: "mount under /mnt/go-docker",
			hcl:  "volume \"in\" {\n  path = \"/srv/in\"\n  mount = \"/mnt/go-docker/in\"\n}",
			want: `volume "in": mount "/mnt/go-docker/in" would hide a path`,
		},
		{
			name: "http on a public address without TLS",
			hcl:  "http {\n  enabled = true\n  address = \"0.0.0.0\"\n}",
			want: `http: address "0.0.0.0" is not loopback, so the API needs TLS`,
		},
		{
			name: "tls cert without key",
			hcl:  "http {\n  tls_cert = \"/c.pem\"\n}",
			want: "http: tls_cert and tls_key go together",
		},
		{
			name: "unknown auth method",
			hcl:  "auth \"kerberos\" {}",
			want: `auth "kerberos": the methods are "local", "ldap", "pam" and "oidc"`,
		},
		{
			name: "oidc without guests",
			hcl:  "auth \"oidc\" {}",
			want: `auth "oidc" admits guests: add a guests block`,
		},
		{
			name: "guests as root",
			hcl:  "guests {\n  user = \"root\"\n  home_root = \"/g\"\n}",
			want: `guests.user must name an unprivileged system user`,
		},
		{
			name: "token ttl too long",
			hcl:  "token_ttl = \"60d\"",
			want: `token_ttl must be between 1m and 30d`,
		},
		{
			name: "no image allowed",
			hcl:  "images {\n  allow_user_images = false\n}",
			want: `images: allow_user_images = false needs at least one allowed image`,
		},
		{
			name: "volume exposing the docker socket",
			hcl:  "volume \"run\" {\n  path = \"/var/run\"\n  mount = \"/host-run\"\n}",
			want: `volume "run": path "/var/run" would expose the Docker socket`,
		},
		{
			name: "unknown updatable field",
			hcl:  "updatable_fields = [\"image\"]",
			want: `updatable_fields: "image" cannot be updated`,
		},
		{
			name: "negative retries",
			hcl:  "max_retries = -1",
			want: "max_retries must be between 0 and 100",
		},
		{
			name: "bad archive age",
			hcl:  "archive_after = \"never\"",
			want: "archive_after:",
		},
		{
			name: "bad dependency policy",
			hcl:  "unsatisfiable_dependencies = \"wait\"",
			want: `unsatisfiable_dependencies must be "end" or "hold", got "wait"`,
		},
		{
			name: "bad default lifespan",
			hcl:  "defaults {\n  max_lifespan = \"forever\"\n}",
			want: "defaults.max_lifespan:",
		},
		{
			name: "scheduler name with a path",
			hcl:  "scheduler \"../../bin/sh\" {}",
			want: `scheduler "../../bin/sh": the built-in policies are "fifo", "fairshare" and "godocker"; a plugin's name uses lower-case letters`,
		},
		{
			name: "config for a built-in scheduler",
			hcl:  "scheduler \"fairshare\" {\n  config = { weights = \"1\" }\n}",
			want: `scheduler "fairshare": config is for plugins and godocker's weights; fifo and fairshare take none`,
		},
		{
			name: "bad scheduler timeout",
			hcl:  "scheduler \"lottery\" {\n  timeout = \"5\"\n}",
			want: `scheduler.timeout must be a positive duration such as "5s" or "500ms", got "5"`,
		},
		{
			name: "relative plugin_dir",
			hcl:  `plugin_dir = "plugins"`,
			want: `plugin_dir must be an absolute path, got "plugins"`,
		},
		{
			name: "tiny default memory",
			hcl:  "defaults {\n  memory = \"1MiB\"\n}",
			want: "defaults.memory must be at least 6 MiB",
		},
		{
			name: "unknown store",
			hcl:  `store "mongodb" {}`,
			want: `store "mongodb": the backends are "sqlite" (the default) and "redis"`,
		},
		{
			name: "sqlite store with redis settings",
			hcl:  "store \"sqlite\" {\n  address = \"127.0.0.1:6379\"\n}",
			want: `store "sqlite" has no settings`,
		},
		{
			name: "redis store without address",
			hcl:  `store "redis" {}`,
			want: `store "redis": address is required`,
		},
		{
			name: "redis address without port",
			hcl:  "store \"redis\" {\n  address = \"redis.example.org\"\n}",
			want: `store "redis": address "redis.example.org" must be host:port`,
		},
		{
			name: "redis address with a bad port",
			hcl:  "store \"redis\" {\n  address = \"redis:70000\"\n}",
			want: `store "redis": address "redis:70000": the port must be 1 to 65535`,
		},
		{
			name: "redis password twice",
			hcl:  "store \"redis\" {\n  address = \"r:6379\"\n  password = \"x\"\n  password_file = \"/etc/pw\"\n}",
			want: `store "redis": set password or password_file, not both`,
		},
		{
			name: "redis relative password file",
			hcl:  "store \"redis\" {\n  address = \"r:6379\"\n  password_file = \"pw\"\n}",
			want: `store "redis": password_file must be an absolute path, got "pw"`,
		},
		{
			name: "redis negative db",
			hcl:  "store \"redis\" {\n  address = \"r:6379\"\n  db = -1\n}",
			want: `store "redis": db must be 0 or more, got -1`,
		},
		{
			name: "redis prefix with a space",
			hcl:  "store \"redis\" {\n  address = \"r:6379\"\n  prefix = \"god \"\n}",
			want: `store "redis": prefix "god " must be 1 to 64 letters`,
		},
		{
			name: "redis CA without tls",
			hcl:  "store \"redis\" {\n  address = \"r:6379\"\n  tls_ca_file = \"/ca.pem\"\n}",
			want: `store "redis": tls_ca_file is set but tls is not: set tls = true`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("agent.hcl", []byte(tc.hcl), nil)
			must.NoError(t, err)
			err = cfg.Finalize()
			must.Error(t, err)
			must.StrContains(t, err.Error(), tc.want)
		})
	}
}

// Finalize reports every problem at once, not only the first.
func TestFinalize_allErrorsAtOnce(t *testing.T) {
	cfg, err := Parse("agent.hcl", []byte("data_dir = \"rel\"\nlog_level = \"loud\"\n"), nil)
	must.NoError(t, err)
	err = cfg.Finalize()
	must.Error(t, err)
	must.StrContains(t, err.Error(), "data_dir must be an absolute path")
	must.StrContains(t, err.Error(), "log_level must be one of")
}

func TestFinalize_derivedValues(t *testing.T) {
	cfg, err := Parse("agent.hcl", []byte(`data_dir = "/srv/god"`), nil)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, "/srv/god/shared", cfg.SharedDir)
	must.Eq(t, DefaultSocket, cfg.Socket) // the system socket does not follow data_dir
	must.Eq(t, 1<<30, cfg.Defaults.MemoryBytes)
	must.Eq(t, "/srv/god/plugins", cfg.PluginDir)
	must.Eq(t, "fifo", cfg.Scheduler.Name)
	must.Eq(t, 5*time.Second, cfg.Scheduler.TimeoutDuration)
	must.Eq(t, &Store{Backend: "sqlite"}, cfg.Store, must.Sprint("the store defaults to SQLite"))

	// A later file's store block replaces an earlier one's whole.
	cfg, err = Parse("a.hcl", []byte("store \"redis\" {\n  address = \"r:6379\"\n  db = 2\n}"), nil)
	must.NoError(t, err)
	cfg, err = Parse("b.hcl", []byte("store \"redis\" {\n  address = \"s:6380\"\n}"), cfg)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, &Store{Backend: "redis", Address: "s:6380", Prefix: "god:"}, cfg.Store)
}

// A scheduler that is not built in is a plugin's, with its config map and
// timeout.
func TestFinalize_pluginScheduler(t *testing.T) {
	cfg, err := Parse("agent.hcl", []byte(`
plugin_dir = "/opt/god/plugins"
scheduler "smallest-first" {
  timeout = "750ms"
  config = {
    weights = "1,2"
    mode    = "strict"
  }
}`), nil)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, "/opt/god/plugins", cfg.PluginDir)
	must.Eq(t, "smallest-first", cfg.Scheduler.Name)
	must.Eq(t, map[string]string{"weights": "1,2", "mode": "strict"}, cfg.Scheduler.Config)
	must.Eq(t, 750*time.Millisecond, cfg.Scheduler.TimeoutDuration)
	must.Eq(t, 0.25, *cfg.Scheduler.MemoryWeight) // the usage ledger still runs
	must.Eq(t, DefaultGPUWeight, *cfg.Scheduler.GPUWeight)
}

// GPUs: the Docker engine's count, the ledger's weight and the quota.
func TestFinalize_gpus(t *testing.T) {
	cfg, err := Parse("agent.hcl", []byte(`
docker {
  gpus = 4
}
scheduler "fairshare" {
  gpu_weight = 20
}
quota {
  running_gpus = 2
}`), nil)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, 4, cfg.Docker.GPUs)
	must.Eq(t, 20.0, *cfg.Scheduler.GPUWeight)
	must.Eq(t, 2, cfg.Quota.RunningGPUs)
	// A later file keeps what it does not set.
	cfg, err = Parse("b.hcl", []byte("docker {\n  cpu = 2\n}"), cfg)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, 4, cfg.Docker.GPUs)
}

func TestLoad_unknownAttribute(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.hcl")
	must.NoError(t, os.WriteFile(path, []byte("log_level = \"info\"\nlog_levl = \"debug\"\n"), 0o644))
	_, err := Load(path, Default())
	must.Error(t, err)
	// The diagnostic names the file and the line of the mistake.
	must.StrContains(t, err.Error(), "on "+path+" line 2")
	must.StrContains(t, err.Error(), `"log_levl" is not expected here`)
}

func TestLoad_unknownBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.hcl")
	must.NoError(t, os.WriteFile(path, []byte("kubernetes {\n  address = \"x\"\n}\n"), 0o644))
	_, err := Load(path, Default())
	must.Error(t, err)
	must.StrContains(t, err.Error(), "on "+path+" line 1")
}

func TestLoad_missingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.hcl"), Default())
	must.Error(t, err)
	must.StrContains(t, err.Error(), "reading agent config")
}

// An HCL JSON file (name ending in .json) means the same as its HCL twin.
func TestLoad_jsonEquivalent(t *testing.T) {
	const hclSrc = `
data_dir   = "/srv/god"
shared_dir = "/shared/god"
socket     = "/run/god/api.sock"
log_level  = "warn"
allow_root = true

http {
  address = "127.0.0.2"
  port    = 7000
}

docker {
  address  = "tcp://127.0.0.1:2375"
  instance = "site-a"
  cpu      = 4
  memory   = "8GiB"
}

defaults {
  image  = "godocker/bash:local"
  cpu    = 0.5
  memory = "512MiB"
}

volume "scratch" {
  path  = "/scratch/$USER"
  mount = "/scratch"
}

volume "reference" {
  path      = "/data/reference"
  read_only = true
}
`
	const jsonSrc = `{
  "data_dir": "/srv/god",
  "shared_dir": "/shared/god",
  "socket": "/run/god/api.sock",
  "log_level": "warn",
  "allow_root": true,
  "http": {"address": "127.0.0.2", "port": 7000},
  "docker": {"address": "tcp://127.0.0.1:2375", "instance": "site-a", "cpu": 4, "memory": "8GiB"},
  "defaults": {"image": "godocker/bash:local", "cpu": 0.5, "memory": "512MiB"},
  "volume": {
    "scratch": {"path": "/scratch/$USER", "mount": "/scratch"},
    "reference": {"path": "/data/reference", "read_only": true}
  }
}`
	dir := t.TempDir()
	hclPath := filepath.Join(dir, "agent.hcl")
	jsonPath := filepath.Join(dir, "agent.json")
	must.NoError(t, os.WriteFile(hclPath, []byte(hclSrc), 0o644))
	must.NoError(t, os.WriteFile(jsonPath, []byte(jsonSrc), 0o644))

	fromHCL, err := Load(hclPath, Default())
	must.NoError(t, err)
	must.NoError(t, fromHCL.Finalize())
	fromJSON, err := Load(jsonPath, Default())
	must.NoError(t, err)
	must.NoError(t, fromJSON.Finalize())

	must.Eq(t, fromHCL, fromJSON)
	must.Eq(t, "site-a", fromJSON.Docker.Instance)
	must.Eq(t, 8<<30, fromJSON.Docker.MemoryBytes)
	must.Eq(t, 512<<20, fromJSON.Defaults.MemoryBytes)
	must.SliceLen(t, 2, fromJSON.Volumes)
}

func TestDev(t *testing.T) {
	cfg := Dev()
	must.True(t, cfg.Dev)
	must.Eq(t, DevDataDir, cfg.DataDir)
	must.True(t, cfg.HTTP.Enabled)
	must.Eq(t, "127.0.0.1", cfg.HTTP.Address)
	must.Eq(t, 6543, cfg.HTTP.Port)
	must.True(t, cfg.AllowRoot)
	must.Eq(t, "debug", cfg.LogLevel)

	must.NoError(t, cfg.Finalize())
	must.Eq(t, "/tmp/god-dev/god.sock", cfg.Socket)
	must.Eq(t, "/tmp/god-dev/shared", cfg.SharedDir)
}

// Dev does not share state with Default: changing one leaves the other.
func TestDev_independentOfDefault(t *testing.T) {
	dev := Dev()
	def := Default()
	must.False(t, def.HTTP.Enabled)
	must.False(t, def.AllowRoot)
	must.Eq(t, "/var/lib/god", def.DataDir)
	dev.HTTP.Port = 1
	must.Eq(t, 6543, Default().HTTP.Port)
}

// The dev socket follows the data dir.
func TestDev_socketFollowsDataDir(t *testing.T) {
	cfg, err := Parse("dev.hcl", []byte(`data_dir = "/tmp/god-other"`), Dev())
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, "/tmp/god-other/god.sock", cfg.Socket)
}

// The TCP API has no authentication yet: allowed under -dev only, and the
// refusal points at the Unix socket.
// TestFinalize_httpTLS: a public listener needs TLS; loopback does not
// (a TLS proxy may sit in front of it).
func TestFinalize_httpTLS(t *testing.T) {
	for _, tc := range []struct {
		src string
		ok  bool
	}{
		{"http {\n  enabled = true\n  port    = 7001\n}\n", true},
		{"http {\n  enabled = true\n  address = \"::1\"\n}\n", true},
		{"http {\n  enabled = true\n  address = \"10.0.0.1\"\n}\n", false},
		{"http {\n  enabled = true\n  address = \"10.0.0.1\"\n  tls_cert = \"/c\"\n  tls_key = \"/k\"\n}\n", true},
	} {
		c, err := Parse("agent.hcl", []byte(tc.src), Default())
		must.NoError(t, err)
		err = c.Finalize()
		if tc.ok {
			must.NoError(t, err, must.Sprint(tc.src))
		} else {
			must.Error(t, err, must.Sprint(tc.src))
		}
	}
}

// Later files override earlier ones attribute by attribute; volumes add up.
func TestParse_layering(t *testing.T) {
	first, err := Parse("a.hcl", []byte(`
log_level = "warn"
docker {
  instance = "site-a"
  cpu      = 4
}
volume "scratch" {
  path  = "/scratch/$USER"
  mount = "/scratch"
}
`), Default())
	must.NoError(t, err)
	second, err := Parse("b.hcl", []byte(`
docker {
  memory = "8GiB"
}
volume "reference" {
  path = "/data/reference"
}
`), first)
	must.NoError(t, err)
	must.NoError(t, second.Finalize())

	must.Eq(t, "warn", second.LogLevel)
	must.Eq(t, "site-a", second.Docker.Instance)
	must.Eq(t, 4, second.Docker.CPU)
	must.Eq(t, 8<<30, second.Docker.MemoryBytes)
	must.Eq(t, "unix:///var/run/docker.sock", second.Docker.Address)
	must.SliceLen(t, 2, second.Volumes)

	// The base is not modified.
	must.Eq(t, "", first.Docker.Memory)
	must.SliceLen(t, 1, first.Volumes)
	must.Eq(t, "info", Default().LogLevel)
}

func TestParse_syntaxError(t *testing.T) {
	_, err := Parse("broken.hcl", []byte("data_dir = \n"), nil)
	must.Error(t, err)
	must.StrContains(t, err.Error(), "invalid agent config")
	must.StrContains(t, err.Error(), "broken.hcl line 1")
}

// A boolean a file leaves out keeps the value below it; one set to false
// turns it off, even over -dev.
func TestParse_booleansLayer(t *testing.T) {
	cfg, err := Parse("a.hcl", []byte("http {\n  port = 7000\n}\n"), Dev())
	must.NoError(t, err)
	must.True(t, cfg.HTTP.Enabled, must.Sprint("left out: the dev default stays"))
	must.True(t, cfg.AllowRoot)
	must.Eq(t, 7000, cfg.HTTP.Port)

	cfg, err = Parse("b.hcl", []byte("allow_root = false\nhttp {\n  enabled = false\n}\n"), Dev())
	must.NoError(t, err)
	must.False(t, cfg.HTTP.Enabled)
	must.False(t, cfg.AllowRoot)

	cfg, err = Parse("c.json", []byte(`{"allow_root": false}`), Dev())
	must.NoError(t, err)
	must.False(t, cfg.AllowRoot)
}

// max_pending = 0 lifts the cap; leaving it out keeps the default.
func TestParse_zeroMeansNoCap(t *testing.T) {
	cfg, err := Parse("a.hcl", []byte("max_pending = 0\n"), nil)
	must.NoError(t, err)
	must.Eq(t, 0, cfg.MaxPending)
	cfg, err = Parse("b.hcl", []byte("log_level = \"info\"\n"), nil)
	must.NoError(t, err)
	must.Eq(t, 10000, cfg.MaxPending)
}

func TestFinalize_nomad(t *testing.T) {
	cfg, err := Parse("n.hcl", []byte("executor = \"nomad\"\nnomad {\n  address = \"http://127.0.0.1:4646\"\n  placement_timeout = \"90s\"\n}\n"), nil)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, "nomad", cfg.Executor)
	must.Eq(t, 90*time.Second, cfg.Nomad.PlacementTimeoutDuration)
	must.Eq(t, "god", cfg.Nomad.Instance)
	for src, want := range map[string]string{
		`executor = "k8s"`: `executor must be "docker", "nomad" or "swarm", got "k8s"`,
		"executor = \"nomad\"\nnomad {\n  placement_timeout = \"soon\"\n}":   `nomad.placement_timeout must be a positive duration`,
		"executor = \"nomad\"\nnomad {\n  job_url = \"https://god/jobs\"\n}": `nomad.job_url must contain {id}`,
	} {
		cfg, err := Parse("n.hcl", []byte(src), nil)
		must.NoError(t, err)
		must.ErrorContains(t, cfg.Finalize(), want)
	}
}
