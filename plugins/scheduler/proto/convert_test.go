package proto

import (
	"maps"
	"testing"
	"time"

	"github.com/shoenig/test/must"
	gproto "google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/godocker/god/plugins/scheduler"
)

func genTime(t *rapid.T, label string) time.Time {
	if rapid.Bool().Draw(t, label+"-zero") {
		return time.Time{}
	}
	return time.Unix(0, rapid.Int64Range(1, 4e18).Draw(t, label))
}

func genSnapshot(t *rapid.T) *scheduler.Snapshot {
	names := rapid.SampledFrom([]string{"", "alice", "bob", "équipe-ü", "p1", "staff"})
	job := rapid.Custom(func(t *rapid.T) scheduler.Job {
		return scheduler.Job{
			ID:              rapid.Int64().Draw(t, "id"),
			UID:             rapid.IntRange(0, 1<<32-2).Draw(t, "uid"),
			User:            names.Draw(t, "user"),
			Submitted:       genTime(t, "submitted"),
			CPU:             rapid.Float64().Draw(t, "cpu"),
			Memory:          rapid.Int64().Draw(t, "memory"),
			GPU:             rapid.IntRange(0, 64).Draw(t, "gpu"),
			Project:         names.Draw(t, "project"),
			Group:           names.Draw(t, "group"),
			Priority:        rapid.IntRange(0, 100).Draw(t, "priority"),
			ProjectPriority: rapid.IntRange(0, 100).Draw(t, "project_priority"),
		}
	})
	usage := rapid.MapOf(rapid.IntRange(0, 1<<32-2), rapid.Float64())
	return &scheduler.Snapshot{
		Now:          genTime(t, "now"),
		Pending:      rapid.SliceOf(job).Draw(t, "pending"),
		Usage:        usage.Draw(t, "usage"),
		Running:      usage.Draw(t, "running"),
		ProjectUsage: rapid.MapOf(names, rapid.Float64()).Draw(t, "project-usage"),
		GroupUsage:   rapid.MapOf(names, rapid.Float64()).Draw(t, "group-usage"),
		GPUWeight:    rapid.Float64().Draw(t, "gpu-weight"),
		Free: scheduler.Resources{
			CPU: rapid.Float64().Draw(t, "free-cpu"), Memory: rapid.Int64().Draw(t, "free-memory"), GPU: rapid.IntRange(0, 1024).Draw(t, "free-gpu"),
		},
	}
}

// A snapshot survives the wire, bytes included, whatever it holds.
func TestSnapshot_roundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genSnapshot(t)
		b, err := gproto.Marshal(EncodeSnapshot(in))
		must.NoError(t, err)
		var m Snapshot
		must.NoError(t, gproto.Unmarshal(b, &m))
		out, err := DecodeSnapshot(&m)
		must.NoError(t, err)

		must.Eq(t, len(in.Pending), len(out.Pending))
		for i := range in.Pending {
			a, b := in.Pending[i], out.Pending[i]
			must.True(t, a.Submitted.Equal(b.Submitted))
			a.Submitted, b.Submitted = time.Time{}, time.Time{}
			must.Eq(t, a, b)
		}
		must.True(t, in.Now.Equal(out.Now))
		must.True(t, maps.Equal(in.Usage, out.Usage))
		must.True(t, maps.Equal(in.Running, out.Running))
		must.True(t, maps.Equal(in.ProjectUsage, out.ProjectUsage))
		must.True(t, maps.Equal(in.GroupUsage, out.GroupUsage))
		must.Eq(t, in.GPUWeight, out.GPUWeight)
		must.Eq(t, in.Free, out.Free)
	})
}

func TestDecisions_roundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := rapid.Custom(func(t *rapid.T) scheduler.Decision {
			return scheduler.Decision{
				JobID:  rapid.Int64().Draw(t, "id"),
				Reason: rapid.SampledFrom([]string{"", "first in, first out", "fair share"}).Draw(t, "reason"),
			}
		})
		in := rapid.SliceOf(d).Draw(t, "decisions")
		m := EncodeDecisions(in)
		must.LessEq(t, 3, len(m.Reasons), must.Sprint("each reason is sent once"))
		out, err := DecodeDecisions(m)
		must.NoError(t, err)
		must.Eq(t, len(in), len(out))
		for i := range in {
			must.Eq(t, in[i], out[i])
		}
	})
}

// A plugin in another language may send no reasons at all.
func TestDecodeDecisions_withoutReasons(t *testing.T) {
	out, err := DecodeDecisions(&Decisions{JobId: []int64{3, 1}})
	must.NoError(t, err)
	must.Eq(t, []scheduler.Decision{{JobID: 3}, {JobID: 1}}, out)
}

func TestDecode_malformed(t *testing.T) {
	_, err := DecodeDecisions(&Decisions{JobId: []int64{3, 1}, Reason: []uint32{0}, Reasons: []string{"x"}})
	must.EqError(t, err, "decisions: 1 reasons for 2 jobs")
	_, err = DecodeDecisions(&Decisions{JobId: []int64{3}, Reason: []uint32{1}, Reasons: []string{"x"}})
	must.EqError(t, err, "decisions: reason[0] = 1 is past the 1 reasons")

	m := EncodeSnapshot(&scheduler.Snapshot{Pending: []scheduler.Job{{ID: 1, User: "alice"}, {ID: 2, User: "bob"}}})
	m.Pending.Cpu = m.Pending.Cpu[:1]
	_, err = DecodeSnapshot(m)
	must.EqError(t, err, "snapshot: pending.cpu has 1 entries for 2 jobs")

	m = EncodeSnapshot(&scheduler.Snapshot{Pending: []scheduler.Job{{ID: 1, User: "alice"}}})
	m.Pending.User[0] = 9
	_, err = DecodeSnapshot(m)
	must.EqError(t, err, "snapshot: pending.user[0] = 9 is past the 2 strings")

	// An empty message is an empty snapshot.
	s, err := DecodeSnapshot(&Snapshot{})
	must.NoError(t, err)
	must.SliceEmpty(t, s.Pending)
}
