package proto

import (
	"fmt"
	"time"

	"github.com/godocker/god/plugins/scheduler"
)

// ProtocolVersion is the version of this protocol, answered by Info.
const ProtocolVersion = 1

// EncodeSnapshot turns a snapshot into its wire form.
func EncodeSnapshot(s *scheduler.Snapshot) *Snapshot {
	n := len(s.Pending)
	jobs := &Jobs{
		Id:                make([]int64, n),
		Uid:               make([]int64, n),
		User:              make([]uint32, n),
		SubmittedUnixNano: make([]int64, n),
		Cpu:               make([]float64, n),
		Memory:            make([]int64, n),
		Gpu:               make([]int32, n),
		Project:           make([]uint32, n),
		Group:             make([]uint32, n),
		Priority:          make([]int32, n),
		ProjectPriority:   make([]int32, n),
	}
	strs := newStringTable()
	// Looking users up by uid spares hashing their names.
	userByUID := map[int]uint32{}
	var project, group lastString
	for i := range s.Pending {
		j := &s.Pending[i] // a Job is too big to copy 100,000 times
		jobs.Id[i] = j.ID
		jobs.Uid[i] = int64(j.UID)
		u, ok := userByUID[j.UID]
		if !ok || strs.list[u] != j.User {
			u = strs.index(j.User)
			userByUID[j.UID] = u
		}
		jobs.User[i] = u
		jobs.SubmittedUnixNano[i] = unixNano(j.Submitted)
		jobs.Cpu[i] = j.CPU
		jobs.Memory[i] = j.Memory
		jobs.Gpu[i] = int32(j.GPU)
		jobs.Project[i] = project.index(strs, j.Project)
		jobs.Group[i] = group.index(strs, j.Group)
		jobs.Priority[i] = int32(j.Priority)
		jobs.ProjectPriority[i] = int32(j.ProjectPriority)
	}
	return &Snapshot{
		NowUnixNano:   unixNano(s.Now),
		Strings:       strs.list,
		Pending:       jobs,
		Usage:         byUID(s.Usage),
		Running:       byUID(s.Running),
		ProjectUsage:  s.ProjectUsage,
		GroupUsage:    s.GroupUsage,
		GpuWeight:     s.GPUWeight,
		Free:          &Resources{Cpu: s.Free.CPU, Memory: s.Free.Memory, Gpu: int32(s.Free.GPU)},
		UserWindow:    encodeWindows(byUIDKey(s.UserWindow)),
		ProjectWindow: encodeWindows(s.ProjectWindow),
	}
}

func byUIDKey(m map[int]scheduler.WindowUsage) map[int64]scheduler.WindowUsage {
	if m == nil {
		return nil
	}
	out := make(map[int64]scheduler.WindowUsage, len(m))
	for k, v := range m {
		out[int64(k)] = v
	}
	return out
}

func encodeWindows[K comparable](m map[K]scheduler.WindowUsage) map[K]*WindowUsage {
	if m == nil {
		return nil
	}
	out := make(map[K]*WindowUsage, len(m))
	for k, v := range m {
		out[k] = &WindowUsage{Seconds: v.Seconds, Cpu: v.CPU, RamGb: v.RAMGB}
	}
	return out
}

func decodeWindows[K comparable](m map[K]*WindowUsage) map[K]scheduler.WindowUsage {
	if m == nil {
		return nil
	}
	out := make(map[K]scheduler.WindowUsage, len(m))
	for k, v := range m {
		out[k] = scheduler.WindowUsage{Seconds: v.GetSeconds(), CPU: v.GetCpu(), RAMGB: v.GetRamGb()}
	}
	return out
}

// DecodeSnapshot checks a snapshot's wire form and turns it back into a
// snapshot. The jobs' strings share the message's.
func DecodeSnapshot(m *Snapshot) (*scheduler.Snapshot, error) {
	jobs := m.GetPending()
	n := len(jobs.GetId())
	for _, col := range []struct {
		name string
		len  int
	}{
		{"uid", len(jobs.GetUid())}, {"user", len(jobs.GetUser())},
		{"submitted_unix_nano", len(jobs.GetSubmittedUnixNano())},
		{"cpu", len(jobs.GetCpu())}, {"memory", len(jobs.GetMemory())},
		{"gpu", len(jobs.GetGpu())}, {"project", len(jobs.GetProject())},
		{"group", len(jobs.GetGroup())}, {"priority", len(jobs.GetPriority())},
		{"project_priority", len(jobs.GetProjectPriority())},
	} {
		if col.len != n {
			return nil, fmt.Errorf("snapshot: pending.%s has %d entries for %d jobs", col.name, col.len, n)
		}
	}
	strs := m.GetStrings()
	str := func(field string, i int, idx uint32) (string, error) {
		if int(idx) >= len(strs) {
			return "", fmt.Errorf("snapshot: pending.%s[%d] = %d is past the %d strings", field, i, idx, len(strs))
		}
		return strs[idx], nil
	}
	pending := make([]scheduler.Job, n)
	var err error
	for i := range pending {
		j := &pending[i]
		j.ID = jobs.Id[i]
		j.UID = int(jobs.Uid[i])
		if j.User, err = str("user", i, jobs.User[i]); err != nil {
			return nil, err
		}
		j.Submitted = fromUnixNano(jobs.SubmittedUnixNano[i])
		j.CPU = jobs.Cpu[i]
		j.Memory = jobs.Memory[i]
		j.GPU = int(jobs.Gpu[i])
		if j.Project, err = str("project", i, jobs.Project[i]); err != nil {
			return nil, err
		}
		if j.Group, err = str("group", i, jobs.Group[i]); err != nil {
			return nil, err
		}
		j.Priority = int(jobs.Priority[i])
		j.ProjectPriority = int(jobs.ProjectPriority[i])
	}
	free := m.GetFree()
	return &scheduler.Snapshot{
		Now:           fromUnixNano(m.GetNowUnixNano()),
		Pending:       pending,
		Usage:         fromUID(m.GetUsage()),
		Running:       fromUID(m.GetRunning()),
		ProjectUsage:  m.GetProjectUsage(),
		GroupUsage:    m.GetGroupUsage(),
		GPUWeight:     m.GetGpuWeight(),
		Free:          scheduler.Resources{CPU: free.GetCpu(), Memory: free.GetMemory(), GPU: int(free.GetGpu())},
		UserWindow:    userWindows(decodeWindows(m.GetUserWindow())),
		ProjectWindow: decodeWindows(m.GetProjectWindow()),
	}, nil
}

// EncodeDecisions turns a policy's order into its wire form, each distinct
// reason sent once.
func EncodeDecisions(ds []scheduler.Decision) *Decisions {
	m := &Decisions{JobId: make([]int64, len(ds)), Reason: make([]uint32, len(ds))}
	strs := newStringTable()
	var reason lastString
	for i, d := range ds {
		m.JobId[i] = d.JobID
		m.Reason[i] = reason.index(strs, d.Reason)
	}
	m.Reasons = strs.list
	return m
}

// DecodeDecisions checks an order's wire form and turns it back into
// decisions. It does not check the ids against a snapshot.
func DecodeDecisions(m *Decisions) ([]scheduler.Decision, error) {
	ids, reasons, table := m.GetJobId(), m.GetReason(), m.GetReasons()
	if len(reasons) != 0 && len(reasons) != len(ids) {
		return nil, fmt.Errorf("decisions: %d reasons for %d jobs", len(reasons), len(ids))
	}
	out := make([]scheduler.Decision, len(ids))
	for i, id := range ids {
		out[i].JobID = id
		if len(reasons) == 0 {
			continue
		}
		if int(reasons[i]) >= len(table) {
			return nil, fmt.Errorf("decisions: reason[%d] = %d is past the %d reasons", i, reasons[i], len(table))
		}
		out[i].Reason = table[reasons[i]]
	}
	return out, nil
}

// stringTable numbers distinct strings in order of first use; "" is 0.
type stringTable struct {
	list []string
	idx  map[string]uint32
}

func newStringTable() *stringTable {
	return &stringTable{list: []string{""}, idx: map[string]uint32{"": 0}}
}

func (t *stringTable) index(s string) uint32 {
	i, ok := t.idx[s]
	if !ok {
		i = uint32(len(t.list))
		t.list = append(t.list, s)
		t.idx[s] = i
	}
	return i
}

// lastString short-cuts one field's runs of the same string (one group,
// one policy's reason), which are most of them.
type lastString struct {
	s   string
	idx uint32
}

func (l *lastString) index(t *stringTable, s string) uint32 {
	if s != l.s {
		l.s, l.idx = s, t.index(s)
	}
	return l.idx
}

// unixNano keeps the zero time distinct: time.Time{}.UnixNano() is not
// defined.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func byUID(m map[int]float64) map[int64]float64 {
	if m == nil {
		return nil
	}
	out := make(map[int64]float64, len(m))
	for k, v := range m {
		out[int64(k)] = v
	}
	return out
}

func fromUID(m map[int64]float64) map[int]float64 {
	if m == nil {
		return nil
	}
	out := make(map[int]float64, len(m))
	for k, v := range m {
		out[int(k)] = v
	}
	return out
}

func userWindows(m map[int64]scheduler.WindowUsage) map[int]scheduler.WindowUsage {
	if m == nil {
		return nil
	}
	out := make(map[int]scheduler.WindowUsage, len(m))
	for k, v := range m {
		out[int(k)] = v
	}
	return out
}
