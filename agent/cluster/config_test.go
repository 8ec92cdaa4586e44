package cluster_test

import (
	"cmp"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/cluster"
)

func TestNew_RejectsBadFieldsNamingThem(t *testing.T) {
	cases := []struct {
		name string
		cfg  cluster.Config
		want string
	}{
		{"short TTL", cluster.Config{SessionTTL: 5 * time.Second}, "session_ttl must be between 10s and 24h (default 15s), got 5s"},
		{"long lock delay", cluster.Config{LockDelay: 2 * time.Minute}, "lock_delay must be between 1ms and 1m (default 5s), got 2m"},
		{"quick reaping", cluster.Config{DeregisterAfter: 10 * time.Second}, "deregister_after must be between 1m and 720h (default 10m), got 10s"},
		{"empty KV segment", cluster.Config{KVPrefix: "a//b"}, `kv_prefix must be slash-separated segments of letters, digits, '.', '_' or '-' such as "god", got "a//b"`},
		{"service prefix with space", cluster.Config{ServicePrefix: "go d"}, `service_prefix must be letters, digits and inner dashes (a DNS label) such as "god", got "go d"`},
		{"node name with dot", cluster.Config{NodeName: "n1.example.org"}, `node_name must be letters, digits and inner dashes, at most 63 characters, got "n1.example.org"`},
		{"advertise without port", cluster.Config{Advertise: "10.0.0.5"}, `advertise must be the host:port where others reach this agent's HTTP API, such as "10.0.0.5:6543"; "10.0.0.5": address 10.0.0.5: missing port in address`},
		{"advertise everywhere", cluster.Config{Advertise: "0.0.0.0:4646"}, `"0.0.0.0:4646": 0.0.0.0 means every interface`},
		{"advertise bad port", cluster.Config{Advertise: "h:99999"}, `"h:99999": port "99999" is not a number between 1 and 65535`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.NodeName = cmp.Or(tc.cfg.NodeName, "n1")
			_, err := cluster.New(tc.cfg, nil)
			must.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNew_ReportsEveryBadField(t *testing.T) {
	_, err := cluster.New(cluster.Config{NodeName: "n1", SessionTTL: time.Second, CheckTTL: time.Millisecond}, nil)
	must.ErrorContains(t, err, "consul.session_ttl")
	must.ErrorContains(t, err, "consul.check_ttl")
}

func TestNew_NamesTheAgentAfterTheHost(t *testing.T) {
	c, err := cluster.New(cluster.Config{}, nil)
	must.NoError(t, err)
	host, err := os.Hostname()
	must.NoError(t, err)
	must.Eq(t, strings.Split(host, ".")[0], c.Name())
}

func TestRegister_RejectsBadInputBeforeCallingConsul(t *testing.T) {
	// Nothing listens on port 1: only validation can answer.
	base := cluster.Config{Address: "127.0.0.1:1", NodeName: "n1", Advertise: "127.0.0.1:4646"}
	noAdvertise := base
	noAdvertise.Advertise = ""
	cases := []struct {
		name      string
		cfg       cluster.Config
		roles     []string
		healthURL string
		want      string
	}{
		{"no role", base, nil, "", "no role to register"},
		{"bad role", base, []string{"sched uler"}, "", `role "sched uler"`},
		{"api without health URL", base, []string{cluster.RoleAPI}, "", "the api role needs the URL"},
		{"relative health URL", base, []string{cluster.RoleAPI}, "/v1/agent/health", "scheme must be http or https"},
		{"no advertise", noAdvertise, []string{cluster.RoleScheduler}, "", "advertise is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cluster.New(tc.cfg, nil)
			must.NoError(t, err)
			err = c.Register(context.Background(), tc.roles, tc.healthURL)
			must.ErrorContains(t, err, tc.want)
		})
	}
}

func TestFinalize_FillsDefaults(t *testing.T) {
	cfg := cluster.Config{NodeName: "n1", KVPrefix: "/team/god/"}
	must.NoError(t, cfg.Finalize())
	must.Eq(t, cluster.Config{
		NodeName:        "n1",
		KVPrefix:        "team/god",
		ServicePrefix:   cluster.DefaultServicePrefix,
		SessionTTL:      cluster.DefaultSessionTTL,
		LockDelay:       cluster.DefaultLockDelay,
		CheckTTL:        cluster.DefaultCheckTTL,
		CheckInterval:   cluster.DefaultCheckInterval,
		CheckTimeout:    cluster.DefaultCheckTimeout,
		DeregisterAfter: cluster.DefaultDeregisterAfter,
	}, cfg)
}
