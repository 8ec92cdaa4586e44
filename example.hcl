# Example GoDocker agent configuration.
#
# Every setting the agent reads is shown below with what it does, its
# default, and why you might change it. Start the agent with it:
#
#   god agent -config example.hcl
#
# -config may be repeated: later files override earlier ones, attribute by
# attribute, and volume blocks add up. The -data-dir flag overrides data_dir.
# `god agent -dev` starts from development defaults instead (noted as "dev:"
# below) and still reads -config files on top of them.
#
# Reference: website/content/docs/configuration/agent.md
# This file is parsed and checked by agent/config/config_test.go.

# Directory of the job store (an SQLite database in <data_dir>/store, written
# with fsync before every acknowledged submit). Created if missing.
# Default: "/var/lib/god". dev: "/tmp/god-dev".
# Change it to put the store on a disk that survives reboots and is backed up.
data_dir = "/var/lib/god"

# Where the agent keeps jobs, users, projects and the audit log. Without
# this block: store "sqlite", the embedded database in <data_dir>/store,
# which only this agent can open; it takes no settings.
#
# store "redis" keeps them in a Redis server (6.2 or later, standalone, not
# Cluster), which several agents can share. Without a consul block only ONE
# agent may use a store at a time: the agent holds a lock in Redis
# (<prefix>agent:lock, refreshed every 5s, expiring 15s after an agent
# stops refreshing it) and refuses to start while another agent holds it,
# naming that agent's host and pid. A stopped agent releases it at once; a
# killed one leaves it to expire. An agent that loses its lock (Redis
# unreachable for 15s) stops rather than risk two schedulers. With a consul
# block, several agents share the store and Consul elects the one that
# schedules (see the consul block below).
# See website/content/docs/redis-store.md to configure Redis durably.
store "redis" {
  # host:port of the server; required.
  address = "redis.example.org:6379"

  # ACL user; empty for the default user.
  username = "god"

  # Password (AUTH), or password_file: an absolute path to a file holding
  # it (one trailing newline is ignored), so that this file can be
  # readable. Set one, not both. Never logged.
  password      = ""
  password_file = "/etc/god/redis-password"

  # Logical database (SELECT). Default 0.
  db = 0

  # Start of every key the store writes: agents with different prefixes
  # are separate installations on one server. Letters, digits and "_.:/-".
  # Default "god:".
  prefix = "god:"

  # Connect with TLS (1.2 or later), checking the server's certificate
  # against tls_ca_file (an absolute path to PEM CA certificates), or the
  # system roots when it is empty. Default false.
  tls         = true
  tls_ca_file = "/etc/god/redis-ca.pem"

  # The agent refuses a server that can lose acknowledged writes (AOF off,
  # appendfsync other than always, an allkeys-* eviction policy, or
  # settings it cannot read). true skips that check: for tests and
  # throwaway setups only. Default false.
  allow_non_durable = false
}

# Directory of the job directories: <shared_dir>/jobs/<id> is mounted in the
# job's container at /mnt/go-docker and holds cmd.sh, god.log, god.err and
# god.info, until the job is archived (see archive_after). The agent also
# writes the passwd and group files of the jobs to <shared_dir>/etc/<hash>,
# one directory per distinct content. It must be owned by the agent's user
# and not writable by anyone else (mode 0755); the agent refuses to start
# otherwise.
# Default: "<data_dir>/shared".
# Change it to put job output on a larger file system than the store.
shared_dir = "/var/lib/god/shared"

# Unix socket of the HTTP API. Every local user may connect (the socket is
# mode 0666): the agent asks the kernel for the caller's uid, so no password
# or token is needed, and a user can only see and stop their own jobs.
# Default: "/run/god/god.sock". dev: "<data_dir>/god.sock".
# The CLI looks for /run/god/god.sock, then /tmp/god-dev/god.sock; if you
# move the socket, users must set GOD_ADDR=unix:///path/to/god.sock.
socket = "/run/god/god.sock"

# Log level of the agent: "trace", "debug", "info", "warn" or "error".
# Default: "info". dev: "debug".
log_level = "info"

# Whether jobs may run as root (uid 0) in their container, with root = true in
# the job spec. Jobs submitted by root are root jobs too, so root cannot
# submit jobs while this is false. In a root job every volume is mounted
# read-only, and the engine's default capabilities are kept except MKNOD,
# SETFCAP, NET_RAW, AUDIT_WRITE and SYS_CHROOT. While a root job runs, its
# job directory belongs to root (mode 0700), so its owner cannot reach it
# from the host; when the job ends, device nodes, fifos and sockets left in
# it are removed, setuid and setgid bits are cleared, and everything is
# given back to the owner before the job is reported over.
# Default: false. dev: true. A file that leaves it out keeps the value below
# it (-dev's, or an earlier file's); a file that sets it to false turns it
# off, under -dev too.
# CAUTION: root in a container is still root on the files it can write (the
# job directory) and on the kernel's attack surface: enable this only for
# users you trust.
allow_root = false

# What happens to a job whose dependency can never be satisfied (it waits
# "afterok" on a job that failed, say): "end" it as over with secondary
# "dependency never satisfied" and the reason (default), or "hold" it so its
# owner can look and stop or release it.
unsatisfiable_dependencies = "end"

# The most retries a job gets, whatever it asks for with retries = N in its
# spec (a spec asking for more is accepted and capped). A job whose container
# the engine loses (a node failure, a container removed while the agent was
# stopped) goes back to pending and runs again with the same id, in the same
# job directory, while it has retries left; then it ends over (lost). A
# non-zero exit is never retried: one job, one computation.
# 0 to 100. Default 3; 0 disables retries.
max_retries = 3

# The longest kill_timeout a job may ask for: how long `god job stop` (or
# the end of its lifespan) lets a job end by itself after SIGTERM before
# SIGKILL. A Go duration, at most "1h". Default "5m".
max_kill_timeout = "5m"

# Place a retried job on another node than those it was lost on. With the
# local Docker engine there is one node, so a retried job then fails with
# that reason instead of running again on the same node. Default false.
avoid_failed_nodes = false

# Jobs that are over keep their directories (output, god.log...) this long;
# then the archiver removes the directory and marks the job archived (its
# record stays, with its exit code; records are never purged automatically:
# users purge with `god job archive -purge`). It checks when the agent starts
# and then every quarter of this period, at least hourly. Same syntax as
# max_lifespan ("12h", "30d", a bare number of days; at most "365d"); "off"
# keeps every directory until `god job archive`. Default "30d", as
# Go-Docker's clean_old. Disk usage is not accounted yet: this is what bounds
# the space job directories take.
archive_after = "30d"

# Caps on pending jobs (each array task counts one): per user, and for the
# whole queue. A submit past either is refused with HTTP 429 and says which
# limit it hit (Go-Docker's rate_limit and rate_limit_all). Checked before
# the job is stored: a burst of concurrent submits can pass a cap by at most
# the submits in flight. 0 means no cap. Defaults: no cap per user, 10000
# in all.
max_pending_per_user = 0
max_pending          = 10000

# The fields users may change on their pending or running jobs with
# `god job update` (Go-Docker's dynamic_fields). Default: both that exist.
updatable_fields = ["max_lifespan", "throttle"]

# Admins see and manage every job, user and project (`god user`, `god
# project`, `god operator audit`). admins lists logins; admin_groups makes
# every member of these groups (from the system user database or LDAP) an
# admin. root on the agent's host is always one. Default: none.
admins       = ["alice"]
admin_groups = ["god-admins"]

# Let the members of a project see and manage (stop, hold, suspend...) each
# other's jobs submitted to it, as Go-Docker's share_project_tasks. Jobs of
# the "default" project stay private. Default: false.
share_project_jobs = false

# How long the token of a `god login` lasts; then the user logs in again.
# Tokens can be revoked earlier (`god logout`; an admin disabling a user
# revokes all theirs). "1m" to "30d". Default "12h".
token_ttl = "12h"

# Login methods for remote users (the TCP API). Local users on the agent's
# host need none: the Unix socket identifies them through the kernel.
#
# "local": users of this host's user database log in with an API key they
# make on the host with `god user apikey` (passwords are not checked).
auth "local" {}

# "ldap": users log in with their LDAP password; their uid, gid, groups and
# home come from the directory. See website/content/docs/auth-ldap.md for
# every setting.
auth "ldap" {
  url      = "ldaps://ldap.example.org"
  base_dn  = "dc=example,dc=org"
  bind_dn  = "cn=god,ou=services,dc=example,dc=org"
  bind_password = "secret"
}

# "pam": users of this host's user database log in with their password,
# checked by the PAM service "god" (/etc/pam.d/god, which the site writes).
# Only in binaries built with -tags pam; see website/content/docs/auth-pam.md.
#   auth "pam" { service = "god" }

# "oidc": guests log in with an OpenID Connect provider (`god login -guest`).
# A guest is inactive until an admin activates them (`god user update
# -active=true LOGIN`). Needs the guests block. See
# website/content/docs/auth-guests.md.
auth "oidc" {
  issuer        = "https://accounts.example.org"
  client_id     = "godocker"
  client_secret = "secret"
}

# Who guests run as: every guest's jobs run as this unprivileged system
# user, each guest with their own home <home_root>/<guest id>, created at
# their first job. Guests may run root jobs only with allow_root here (and
# the agent's allow_root).
guests {
  user       = "god-guest"
  home_root  = "/srv/god/guests"
  allow_root = false
}

# Which images jobs may use. allowed lists images or shell patterns
# ("debian:*", "registry.example.org/*"); allow_user_images lets users run
# others too. Default: no list, every image allowed. With a list,
# allow_user_images defaults to false.
images {
  allowed           = ["debian:bookworm-slim", "registry.example.org/*"]
  allow_user_images = false
}

# Directory of plugin binaries. A scheduler block naming a policy that is
# not built in runs <plugin_dir>/god-scheduler-<name>; the agent refuses to
# start if the file is missing, or if it or the directory is writable by
# anyone but its owner (it runs with the agent's privileges).
# Default: "<data_dir>/plugins".
plugin_dir = "/var/lib/god/plugins"

# The scheduling policy: "fifo" (default: jobs start in the order they were
# accepted) or "fairshare": the user with the least past usage for their
# priority goes first, and users' jobs interleave instead of one user's
# backlog going first. Usage is cpu core-seconds plus memory GiB-seconds
# times memory_weight plus GPU-seconds times gpu_weight, fading by half every
# half_life, per user, per project and per group; a job's turn comes by its
# owner's usage / ((owner's priority / 50) x (project's priority / 50)) plus
# its project's usage / (project's priority / 50). `god usage` shows them.
# Without this block the policy is fifo. A scheduler block in a later
# -config file replaces this one whole.
#
# "godocker" reproduces Go-Docker's FairShare score exactly, for sites that
# migrate; its config sets the weights (Go-Docker's defaults shown):
#
#   scheduler "godocker" {
#     config = {
#       waiting_time = "0.1", user_time = "1", user_cpu = "0.2", user_ram = "0.2",
#       project_time = "0.1", project_cpu = "0.01", project_ram = "0.01",
#       user_priority = "1", project_priority = "1"
#     }
#   }
#
# Any other name is a plugin in plugin_dir (see
# website/content/docs/scheduler-plugins.md), for example:
#
#   scheduler "smallest-first" {
#     timeout = "2s"
#     config  = { weights = "1,2" }
#   }
scheduler "fairshare" {
  # How fast past usage fades: max_lifespan's syntax, at most "365d".
  half_life     = "7d"
  # Core-seconds per GiB-second (0.25: 4 GiB weigh like a core); 0 or more.
  memory_weight = 0.25
  # Core-seconds per GPU-second (10: a GPU weighs like ten cores); 0 or more.
  gpu_weight    = 10
  # Plugins only: how long one call to the plugin may take before the agent
  # kills it, uses fifo's order for that cycle and restarts it. Default "5s".
  timeout       = "5s"
  # Settings passed to a plugin when it starts (strings), or godocker's
  # weights; fifo and fairshare take none. Default: none.
  config        = {}
}

# What each user may run at once. Jobs beyond wait, pending, and
# `god job why` names the quota; other users' jobs go on. 0 or absent means
# no cap (the default).
quota {
  running_cpu    = 0
  running_memory = "0"
  running_jobs   = 0
  running_gpus   = 0

  # Core-hours (cores x hours run) a user's jobs may use over a sliding
  # window: the jobs that ended within the last `window` count. A user past
  # it waits until old usage leaves the window ("hold", the default) or has
  # their next jobs ended over/"quota reached" ("end", as Go-Docker did).
  # Admins give projects quotas of their own (god project update). Default:
  # no cap, "30d", "hold".
  cpu_hours     = 0
  window        = "30d"
  when_exceeded = "hold"
}

# The TCP listener of the HTTP API, for remote users. Every request on it
# needs a token from `god login` (see the auth blocks); under -dev, loopback
# callers without a token are identified through the kernel's socket table.
# Default: false. dev: true. Left out, it keeps the value below it (-dev's,
# or an earlier file's); set to false, it turns the listener off. The agents
# of a cluster (consul block) need it: they forward requests to the leader
# over it, and Consul checks their health on it.
http {
  enabled = true

  # Address and port to listen on when enabled. The port is 1 to 65535.
  # Defaults: "127.0.0.1" and 6543. Change the port if 6543 is taken.
  # A non-loopback address needs TLS (or a TLS proxy in front of a loopback
  # listener).
  address = "0.0.0.0"
  port    = 6543

  # PEM certificate (with its chain) and key: the API then speaks HTTPS.
  tls_cert = "/etc/god/tls/cert.pem"
  tls_key  = "/etc/god/tls/key.pem"

  # The URL users reach the API at, for links and the guest login callback
  # (<public_url>/v1/login/oidc/callback). Default: built from address/port.
  public_url = "https://god.example.org:6543"

  # PEM CA certificates that verify the other agents of a cluster when this
  # one forwards a request to the leader over HTTPS. Default: the system's
  # roots.
  tls_ca_file = "/etc/god/tls/ca.pem"
}

# What this agent does in a cluster (with a consul block):
#   "api"       serves the API on its socket and TCP listener; requests are
#               forwarded to the leader with the caller's identity, signed
#               with the key the agents share through the store. Consul
#               checks it over HTTP (GET /v1/agent/health) and DNS names the
#               healthy ones: <service_prefix>-api.service.consul.
#   "scheduler" may be elected leader, which keeps the queue, schedules and
#               dispatches, follows the engine and answers every request.
#   "watcher"   follows the engine and records the end of its share of the
#               jobs (rendezvous hashing over the healthy watchers).
# Default: all three. An agent without a consul block does everything.
roles = ["api", "scheduler", "watcher"]

# Several agents in front of one engine (usually Nomad), sharing a
# store "redis": Consul elects the leader through a lock and each agent
# registers its roles as services <service_prefix>-<role> with health
# checks. A leader that dies is replaced after check_ttl + lock_delay; one
# that loses the lock stops dispatching at once, and its writes carry its
# epoch, so a deposed leader cannot change the store.
# Without this block the agent runs alone.
# See website/content/docs/production.md.
consul {
  # Consul's HTTP API: "host:port", "https://host:port" or "unix:///path".
  # Default: CONSUL_HTTP_ADDR, then "127.0.0.1:8500" (the local agent).
  address = "127.0.0.1:8500"

  # ACL token (needs key:write on <kv_prefix>/, session:write and
  # service:write on <service_prefix>-*), or token_file: an absolute path to
  # a file holding it. Default: CONSUL_HTTP_TOKEN. Never logged.
  token      = ""
  token_file = "/etc/god/consul-token"

  # Datacenter. Default: the local Consul agent's.
  datacenter = ""

  # This agent's name among the others (a DNS label). Default: the host name
  # up to its first dot.
  node_name = "god-1"

  # Where the other agents and Consul's checks reach this agent's HTTP API
  # (host:port of the http block's listener); required.
  advertise = "10.0.0.5:6543"

  # Services are <service_prefix>-api, -scheduler and -watcher; keys live
  # under <kv_prefix>/ (the leader lock and epoch). Agents that share a
  # store share both. Defaults: "god" and "god".
  service_prefix = "god"
  kv_prefix      = "god"

  # The leader's Consul session: a leader that cannot renew it for
  # session_ttl (10s to 24h) steps down; after a leader's session ends,
  # Consul keeps the lock from everyone for lock_delay (at most 60s), time
  # for a deposed leader to notice. Defaults: "15s" and "5s".
  session_ttl = "15s"
  lock_delay  = "5s"

  # Health checks: the scheduler and watcher roles pass a TTL check every
  # check_ttl/3 while the agent reaches the store; the leader's session is
  # tied to its scheduler check, so a dead leader is noticed after
  # check_ttl. The api role's HTTP check runs every check_interval with
  # check_timeout. A service critical for deregister_after (at least 1m) is
  # removed. Defaults: "10s", "10s", "5s", "10m".
  check_ttl        = "10s"
  check_interval   = "10s"
  check_timeout    = "5s"
  deregister_after = "10m"

  # TLS to Consul: CA, client certificate and key (PEM files). Default:
  # CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY.
  ca_file   = "/etc/consul.d/ca.pem"
  cert_file = ""
  key_file  = ""
}

# What runs the jobs: "docker", the local Docker engine (the default, the
# docker block below), "nomad", a Nomad cluster (the nomad block): each
# job becomes a Nomad batch job on the docker driver, with the same
# confinement (website/content/docs/nomad.md), or "swarm", a Docker Swarm
# cluster (the swarm block): each job becomes a one-replica service never
# restarted (website/content/docs/swarm.md).
executor = "docker"

# The Nomad cluster, with executor = "nomad". Every client must mount
# shared_dir at the same path, enable the docker plugin's volumes, and the
# images must have bash (and not be tagged "latest": Nomad always pulls it).
nomad {
  # Nomad's HTTP API. Default "http://127.0.0.1:4646".
  address = "https://nomad.example.org:4646"
  # ACL token (submit-job, read-job, read-logs, alloc-lifecycle in the
  # namespace; node:read).
  # Default: NOMAD_TOKEN from the environment.
  token = ""
  # Where jobs run. Defaults: the agent's region and namespace, every
  # datacenter, the "default" node pool.
  region      = ""
  namespace   = ""
  datacenters = ["dc1"]
  node_pool   = ""
  # Nomad jobs are named <instance>-<store id, 8 digits>-<job id>.
  # Default: docker.instance.
  instance = "god"
  # A job Nomad cannot place in this long goes back to GoDocker's queue,
  # pending with Nomad's reason. Default "5m".
  placement_timeout = "5m"
  # Links: the Nomad UI (shown by god job status), and back from a Nomad
  # job to GoDocker ({id} is the job id). Defaults: address, none.
  ui_url  = "https://nomad.example.org:4646"
  job_url = "https://god.example.org/jobs/{id}"
  # The kill_timeout (SIGTERM to SIGKILL) Nomad gets for a job that has
  # none: jobs stored before jobs had one. Jobs have their own (the job
  # spec's kill_timeout, or defaults.kill_timeout). Clients cap it at their
  # max_kill_timeout (Nomad's default 30s). Default "5s".
  kill_timeout = "5s"
  # Cores to Nomad MHz: 0 takes the slowest core speed of the ready nodes.
  cpu_mhz_per_core = 0
  # Processes per container (default 4096) and the Nomad jobs' priority
  # (1-100, default Nomad's 50).
  pids_limit = 4096
  priority   = 50
  # TLS to Nomad: CA bundle, client certificate and key, server name.
  ca_cert         = ""
  client_cert     = ""
  client_key      = ""
  tls_server_name = ""
}

# The Swarm cluster, with executor = "swarm". Every node must see
# shared_dir and the volumes at the same paths (shared storage), and have
# the jobs' images (or reach their registry).
swarm {
  # A manager's engine. Default "unix:///var/run/docker.sock".
  address = "unix:///var/run/docker.sock"
  # Services are named <instance>-<store id, 8 digits>-<job id>.
  # Default: docker.instance.
  instance = "god"
  # Capacity: 0 (the default) sums the ready, active nodes' cpus and
  # memory; GPUs are the nodes' generic resources of this kind
  # (dockerd --node-generic-resource NVIDIA-GPU=<uuid>).
  cpu          = 0
  memory       = ""
  gpu_resource = "NVIDIA-GPU"
  # Placement constraints of every job, beside the failed nodes it avoids.
  constraints = []
  # Processes per container. Default 4096.
  pids_limit = 4096
  # god-nnp (bin/god-nnp, built by `make build`) at this path on every
  # node: engines before Docker 25 cannot set no-new-privileges on a
  # service, and then jobs run through it (the agent refuses to start
  # without it, unless dockerd runs with --no-new-privileges).
  nnp_helper = "/usr/local/bin/god-nnp"
  # How long a dispatch waits for Swarm to run the task or refuse it (an
  # image no node has: the job fails with Swarm's reason). Default "30s".
  start_timeout = "30s"
  # How often tasks on other nodes are polled for their end (ends on the
  # manager's node are heard at once). Default "1s".
  poll_interval = "1s"
}

# The local Docker engine that runs the jobs.
docker {
  # Address of the engine's API: unix:///path or tcp://host:port.
  # Default: "unix:///var/run/docker.sock".
  address = "unix:///var/run/docker.sock"

  # Name of this GoDocker installation on the engine. Containers are named
  # <instance>-<job id> and labelled with it; the agent only touches its own.
  # Default: "god". Two agents sharing one engine must use different names.
  instance = "god"

  # Capacity GoDocker may use on the engine: cores and memory. Pending jobs
  # start, first in first out, while their requests fit in what running jobs
  # leave; a job asking for more than the capacity is refused at submit.
  # Default: 0 and "0", meaning what the engine reports (docker info: CPUs and
  # total memory). Set lower to leave room for the host's own services, e.g.
  # cpu = 6 and memory = "28GiB" on an 8-core, 32 GiB machine. Do not set cpu
  # above the engine's CPU count: Docker refuses such containers.
  cpu    = 0
  memory = "0"

  # NVIDIA GPUs on the engine's host that jobs may ask for (resources { gpu
  # = N }); each job gets its own through the engine's device request, as
  # `docker run --gpus N` (needs the NVIDIA Container Toolkit). Default: 0,
  # and jobs that ask for a GPU are refused at submit.
  gpus = 0
}

# Sessions users open into their running jobs (`god job exec`, `god job
# ssh`): as the job's user, through the agent, only by the job's owner or an
# admin (audited).
sessions {
  # How many sessions a job may have open at once. Default: 4.
  max_per_job = 4
  # A session with no input or output for this long is closed. Default: 1h.
  idle_timeout = "1h"
}

# Values for jobs that do not set them.
defaults {
  # Image of jobs without image = "...". It needs bash.
  # Default: "debian:bookworm-slim". Change it to an image your users' tools
  # are in, or to a local image where no registry is reachable.
  image = "debian:bookworm-slim"

  # Cores and memory of jobs without a resources block (or without that
  # attribute in it). Memory uses binary units: "1G" = "1GB" = "1GiB"; it
  # must be at least "6MiB", the engine's minimum.
  # Defaults: 1 and "1GiB".
  cpu    = 1
  memory = "1GiB"

  # Jobs that run longer than this are killed with the reason "max lifespan
  # reached" (Go-Docker's maxlifespan). A job may ask for another value with
  # max_lifespan; "90m", "12h", "7d" (a bare number means days). Default 7d.
  max_lifespan = "7d"

  # How long a stopped job may take to end after SIGTERM before SIGKILL,
  # unless it asks for another kill_timeout; "0s" kills at once. At most
  # max_kill_timeout. Default "10s".
  kill_timeout = "10s"
}

# Volumes: host directories that users may mount by name, with
# volumes = ["scratch", "reference"] in their job spec. The volume "home" (the
# user's home directory, mounted at its own path) always exists and cannot be
# defined here. Names use lower-case letters, digits, "-" and "_", starting
# with a letter.
#
# In path, $USER, $UID and $HOME are replaced by the job owner's name, uid
# and home directory (from the user database); path must be absolute, or
# start with $HOME, e.g. path = "$HOME/data". Write $USER, not ${USER}:
# ${...} is HCL interpolation.
# The directory must exist when the job is submitted and when it starts
# (GoDocker does not create it). The part of path before the first variable
# is yours and may contain symbolic links, and so may $HOME; everything after
# it must contain none, so "/scratch/$USER" cannot lead to another user's
# directory or to a system path. A path that is or contains the Docker
# socket (/, /var, /run, /var/run, /var/run/docker.sock...) is refused.
# Known limit: the path is checked when the job is dispatched and bound by
# the engine right after; a user who swaps a directory for a link in between
# could still redirect the mount (a fix with file descriptors is planned).
volume "scratch" {
  # Host directory; required.
  path = "/scratch/$USER"

  # Where it appears in the container. Default: path. Required when path
  # has variables; it cannot be /, /etc, /proc, /sys, /dev, /bin, /usr, /lib
  # or /mnt/go-docker, nor under them.
  mount = "/scratch"

  # Mount read-only. Default: false. Root jobs get every volume read-only.
  read_only = false

  # Who may mount it: these logins, members of these groups, and jobs of
  # these projects. All three empty or absent (the default): everyone.
  users    = []
  groups   = ["god-lab"]
  projects = []
}

volume "cache" {
  path  = "/var/cache/god/$UID"
  mount = "/cache"
}

volume "reference" {
  # Shared reference data: the same directory for everyone, read-only, at
  # the same path in the container as on the host.
  path      = "/data/reference"
  read_only = true
}
