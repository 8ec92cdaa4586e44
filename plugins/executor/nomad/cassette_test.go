package nomad_test

// Recorded exchanges with a real Nomad ("cassettes"), so the executor suite
// also runs where no Nomad can be installed (CI: no registry ships it).
//
// Recording: GOD_NOMAD_RECORD=1 with a live Nomad puts a small reverse proxy
// between the executor and Nomad; each scenario's exchanges are written to
// testdata/<scenario>.json, with the run's volatile names (the instance,
// the store ids, the host directory) replaced by placeholders and secrets
// and host details removed.
//
// Replay: an httptest server answers from the cassette. Requests must come
// as recorded: same method, path and query (without the blocking-query
// parameters), same JSON body, in the recorded order for each such key.
// Anything else fails the test, as does a recorded exchange never asked for.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Placeholders written in cassettes for what differs between runs.
const (
	phInstance = "{{instance}}"
	phHostDir  = "{{hostdir}}"
	phNode     = "god-nomad-node"
)

// phStore and phStoreShort are the placeholders of the i-th store id of a
// scenario (random when recorded): the whole id (in meta and labels) and
// its first 8 digits (in Nomad job ids).
func phStore(i int) string      { return fmt.Sprintf("{{store%d}}", i) }
func phStoreShort(i int) string { return fmt.Sprintf("{{store%d:8}}", i) }

// Values the placeholders take on replay.
const (
	replayInstance = "replay"
	replayHostDir  = "/replay/hostdir"
)

// replayStores are the store ids on replay, one per store a scenario uses.
var replayStores = []string{"0123456789abcdef", "fedcba9876543210"}

// storePairs are the replacements of store ids by their placeholders (the
// whole id first: a replacer tries its pairs in order), or the reverse.
func storePairs(stores []string, toPlaceholder bool) []string {
	var pairs []string
	for i, id := range stores {
		if toPlaceholder {
			pairs = append(pairs, id, phStore(i), id[:8], phStoreShort(i))
		} else {
			pairs = append(pairs, phStore(i), id, phStoreShort(i), id[:8])
		}
	}
	return pairs
}

type cassette struct {
	Scenario  string      `json:"scenario"`
	Nomad     string      `json:"nomad"` // version recorded against
	Exchanges []*exchange `json:"exchanges"`
}

type exchange struct {
	// At is when Nomad's answer was complete: the replay clock.
	At     time.Time         `json:"at"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  string            `json:"query,omitempty"`
	Body   json.RawMessage   `json:"body,omitempty"`
	Status int               `json:"status"`
	Header map[string]string `json:"header,omitempty"`
	// The response: JSON, newline-delimited JSON (a stream), or text.
	JSON   json.RawMessage   `json:"json,omitempty"`
	Stream []json.RawMessage `json:"stream,omitempty"`
	Text   *string           `json:"text,omitempty"`

	seq int
}

func (x *exchange) key() string { return x.Method + " " + x.Path + "?" + x.Query }

// volatileParams differ between runs without changing the meaning of a
// request: the blocking-query position and wait.
var volatileParams = []string{"index", "wait", "stale"}

// normalQuery drops volatile parameters and orders the rest (the client
// sends the event stream's topics in map order).
func normalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	for _, p := range volatileParams {
		delete(q, p)
	}
	for k := range q {
		slices.Sort(q[k])
	}
	return q.Encode()
}

// Response headers kept: those the client reads.
var keptHeaders = []string{"Content-Type", "X-Nomad-Index", "X-Nomad-Knownleader", "X-Nomad-Lastcontact"}

func cassettePath(scenario string) string {
	return filepath.Join("testdata", scenario+".json")
}

// ---------------------------------------------------------------- replay

type replayer struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	queues map[string][]*exchange
	clock  time.Time
	done   chan struct{}
	// breakStreams ends a stream after its recorded lines, as a Nomad
	// server that goes away does, instead of holding it open.
	breakStreams bool
}

// replay serves a scenario's cassette; its URL stands for Nomad.
func replay(t *testing.T, scenario string) *replayer {
	t.Helper()
	return replayPart(t, scenario, func(*exchange) bool { return true })
}

// replayPart serves only the exchanges of a cassette that keep selects.
func replayPart(t *testing.T, scenario string, keep func(*exchange) bool) *replayer {
	t.Helper()
	raw, err := os.ReadFile(cassettePath(scenario))
	if err != nil {
		t.Fatalf("no cassette for scenario %s (%v); record it with a live Nomad: GOD_NOMAD_RECORD=1 go test -run 'TestLive/%s' ./plugins/executor/nomad/", scenario, err, scenario)
	}
	pairs := append([]string{phInstance, replayInstance, phHostDir, replayHostDir}, storePairs(replayStores, false)...)
	text := strings.NewReplacer(pairs...).Replace(string(raw))
	var c cassette
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("cassette %s: %v", cassettePath(scenario), err)
	}
	c.Exchanges = slices.DeleteFunc(c.Exchanges, func(x *exchange) bool { return !keep(x) })
	if len(c.Exchanges) == 0 {
		t.Fatalf("cassette %s has no exchanges to replay", cassettePath(scenario))
	}
	r := &replayer{t: t, queues: map[string][]*exchange{}, done: make(chan struct{})}
	for _, x := range c.Exchanges {
		r.queues[x.key()] = append(r.queues[x.key()], x)
	}
	r.clock = c.Exchanges[0].At
	r.srv = httptest.NewServer(r)
	t.Cleanup(func() {
		close(r.done) // ends held streams
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for k, q := range r.queues {
			if len(q) > 0 {
				t.Errorf("replay: the executor never made %d recorded request(s) %s", len(q), k)
			}
		}
	})
	return r
}

// now is the time Nomad answered the last exchange served, when recorded.
func (r *replayer) now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clock
}

func (r *replayer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	key := req.Method + " " + req.URL.Path + "?" + normalQuery(req.URL.RawQuery)
	r.mu.Lock()
	q := r.queues[key]
	if len(q) == 0 {
		r.mu.Unlock()
		r.t.Errorf("replay: unexpected request %s with body %s", key, body)
		http.Error(w, "not in the cassette", 599)
		return
	}
	x := q[0]
	r.queues[key] = q[1:]
	if x.Stream == nil {
		r.clock = x.At
	}
	r.mu.Unlock()

	if diff := jsonDiff(x.Body, body); diff != "" {
		r.t.Errorf("replay: %s sent a body that differs from the recording: %s", key, diff)
	}
	for k, v := range x.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(x.Status)
	switch {
	case x.Stream != nil:
		rc := http.NewResponseController(w)
		for _, line := range x.Stream {
			_, _ = w.Write(append(slices.Clone(line), '\n'))
		}
		_ = rc.Flush()
		if r.breakStreams {
			return
		}
		// A live stream stays open until the client leaves.
		select {
		case <-req.Context().Done():
		case <-r.done:
		}
	case x.JSON != nil:
		_, _ = w.Write(x.JSON)
	case x.Text != nil:
		_, _ = io.WriteString(w, *x.Text)
	}
}

// jsonDiff compares a sent body with the recorded one, after scrubbing it
// as the recording was; "" when they match, else where they first differ.
func jsonDiff(recorded json.RawMessage, sent []byte) string {
	if len(recorded) == 0 || len(bytes.TrimSpace(sent)) == 0 {
		if len(recorded) == 0 && len(bytes.TrimSpace(sent)) == 0 {
			return ""
		}
		return fmt.Sprintf("recorded %q, sent %q", recorded, sent)
	}
	var want, got any
	if err := json.Unmarshal(recorded, &want); err != nil {
		return fmt.Sprintf("recorded body is not JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(sent))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		return fmt.Sprintf("sent body is not JSON: %v", err)
	}
	// Same representation as the recording: scrubbed, re-encoded, decoded.
	b, _ := json.Marshal(scrubValue(got, "", ""))
	got = nil
	_ = json.Unmarshal(b, &got)
	return firstDiff("", want, got)
}

// firstDiff is the path of the first difference between two decoded JSON
// values, with both sides; "" if equal.
func firstDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(w))
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if d := firstDiff(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			if d := firstDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(want, got) {
		return ""
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	return fmt.Sprintf("at %s: recorded %s, sent %s", orRoot(path), wb, gb)
}

func orRoot(path string) string {
	if path == "" {
		return "the top"
	}
	return path
}

// ---------------------------------------------------------------- record

type recorder struct {
	t        *testing.T
	target   *url.URL
	srv      *httptest.Server
	scenario string
	scrub    *strings.Replacer
	host     string // the machine's name, replaced by phNode where it is a whole value

	mu        sync.Mutex
	seq       int
	exchanges []*exchange
	inflight  sync.WaitGroup
}

// record proxies to the Nomad at target and writes the scenario's cassette
// when the test (and its cleanups registered later) ends.
func record(t *testing.T, target, scenario, instance string, stores []string, hostDir string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	pairs := append([]string{instance, phInstance}, storePairs(stores, true)...)
	if hostDir != "" {
		pairs = append(pairs, hostDir, phHostDir)
	}
	r := &recorder{t: t, target: u, scenario: scenario, scrub: strings.NewReplacer(pairs...)}
	r.host, _ = os.Hostname()
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.save) // registered first: runs after every later cleanup
	return r
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.inflight.Add(1)
	defer r.inflight.Done()
	r.mu.Lock()
	r.seq++
	seq := r.seq
	r.mu.Unlock()

	body, _ := io.ReadAll(req.Body)
	out, err := http.NewRequestWithContext(req.Context(), req.Method, r.target.JoinPath(req.URL.Path).String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.URL.RawQuery = req.URL.RawQuery
	out.Header = req.Header.Clone() // the token goes to Nomad, never to the cassette
	// Recorded as plain text: the transport asks for gzip and inflates.
	out.Header.Del("Accept-Encoding")
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	x := &exchange{
		seq:    seq,
		Method: req.Method,
		Path:   r.scrub.Replace(req.URL.Path),
		Query:  r.scrub.Replace(normalQuery(req.URL.RawQuery)),
		Status: resp.StatusCode,
		Header: map[string]string{},
	}
	if len(body) > 0 {
		x.Body = r.jsonOrNil(body)
	}
	for _, h := range keptHeaders {
		if v := resp.Header.Get(h); v != "" {
			x.Header[h] = v
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)

	if req.URL.Path == "/v1/event/stream" && resp.StatusCode == http.StatusOK {
		// Pass each line on as it comes; keep it until the client leaves.
		rc := http.NewResponseController(w)
		x.Stream = []json.RawMessage{}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = w.Write(append(slices.Clone(line), '\n'))
			_ = rc.Flush()
			if j := ownEvents(r.jsonOrNil(line)); j != nil {
				x.Stream = append(x.Stream, j)
			}
		}
	} else {
		data, _ := io.ReadAll(resp.Body)
		_, _ = w.Write(data)
		if j := r.jsonOrNil(data); j != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			x.JSON = j
		} else {
			s := r.scrub.Replace(string(data))
			x.Text = &s
		}
	}
	x.At = time.Now().UTC()
	r.mu.Lock()
	r.exchanges = append(r.exchanges, x)
	r.mu.Unlock()
}

// ownEvents keeps, of a scrubbed line of the event stream, the events of
// this scenario's jobs: others (earlier scenarios' jobs being collected on
// the same Nomad) are not part of it. A line left with no event is
// dropped; heartbeats ({}) are kept.
func ownEvents(line json.RawMessage) json.RawMessage {
	if line == nil {
		return nil
	}
	var batch map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // Nomad's times are nanoseconds: too big for float64
	if dec.Decode(&batch) != nil {
		return line
	}
	events, ok := batch["Events"].([]any)
	if !ok {
		return line
	}
	var own []any
	for _, ev := range events {
		if b, _ := json.Marshal(ev); bytes.Contains(b, []byte(phInstance)) {
			own = append(own, ev)
		}
	}
	if len(own) == 0 {
		return nil
	}
	batch["Events"] = own
	out, _ := json.Marshal(batch)
	return out
}

// jsonOrNil scrubs a JSON document: run-specific names become
// placeholders, secrets and host details are dropped. Not JSON: nil.
func (r *recorder) jsonOrNil(b []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	v = scrubValue(v, "", r.host)
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return json.RawMessage(r.scrub.Replace(string(out)))
}

// ipv4 finds the addresses of this machine's networks in messages.
var ipv4 = regexp.MustCompile(`\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b`)

// secretKey names fields that hold credentials.
var secretKey = regexp.MustCompile(`(?i)(secret|token|password|signedidentit)`)

// scrubValue removes secrets and the host's fingerprint (its name; kernel,
// CPU model, driver versions: Attributes maps) from a decoded document.
func scrubValue(v any, key, host string) any {
	switch {
	case secretKey.MatchString(key):
		switch t := v.(type) {
		case string:
			if t == "" {
				return t
			}
			return "redacted"
		case map[string]any:
			return map[string]any{}
		case []any:
			return []any{}
		}
		return v
	case key == "Attributes":
		if _, ok := v.(map[string]any); ok {
			return map[string]any{}
		}
	}
	switch t := v.(type) {
	case string:
		if host != "" && t == host {
			return phNode
		}
		return ipv4.ReplaceAllStringFunc(t, func(ip string) string {
			if strings.HasPrefix(ip, "127.") {
				return ip
			}
			return "192.0.2.1" // documentation address (RFC 5737)
		})
	case map[string]any:
		for k, x := range t {
			t[k] = scrubValue(x, k, host)
		}
	case []any:
		for i, x := range t {
			t[i] = scrubValue(x, key, host)
		}
	}
	return v
}

func (r *recorder) save() {
	r.srv.Close() // waits for handlers, streams included, once clients left
	r.inflight.Wait()
	if r.t.Failed() {
		r.t.Logf("not writing cassette %s: the scenario failed", cassettePath(r.scenario))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortFunc(r.exchanges, func(a, b *exchange) int { return a.seq - b.seq })
	// One exchange per line: compact, yet a re-recording diffs by request.
	head, err := json.Marshal(cassette{Scenario: r.scenario, Nomad: nomadVersion()})
	if err != nil {
		r.t.Errorf("encoding cassette: %v", err)
		return
	}
	var out bytes.Buffer
	out.Write(head[:len(head)-len(`"exchanges":null}`)])
	out.WriteString("\"exchanges\": [\n")
	for i, x := range r.exchanges {
		b, err := json.Marshal(x)
		if err != nil {
			r.t.Errorf("encoding cassette: %v", err)
			return
		}
		out.Write(b)
		if i < len(r.exchanges)-1 {
			out.WriteByte(',')
		}
		out.WriteByte('\n')
	}
	out.WriteString("]}")
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		r.t.Error(err)
		return
	}
	if err := os.WriteFile(cassettePath(r.scenario), append(out.Bytes(), '\n'), 0o644); err != nil {
		r.t.Error(err)
		return
	}
	r.t.Logf("recorded %d exchanges in %s", len(r.exchanges), cassettePath(r.scenario))
}

func (r *recorder) String() string { return fmt.Sprintf("recorder(%s)", r.scenario) }
