package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/lazy"
	"github.com/godocker/god/store"
)

// DefaultProject is open to everyone, has no quota and priority 50; jobs
// that name no project belong to it.
const DefaultProject = "default"

var projectName = lazy.Regexp(`^[a-z][a-z0-9_-]{0,63}$`)

// projects returns the projects by name, from the cache when fresh.
func (a *Agent) projects(ctx context.Context) (map[string]*api.Project, error) {
	return a.projs.get(ctx, a.rec, func(p *api.Project, r *store.Record) { p.Version = r.Version })
}

// memberOf lists the projects login belongs to (default not included).
func (a *Agent) memberOf(login string) []string {
	ps, err := a.projects(context.Background())
	if err != nil {
		return nil
	}
	var out []string
	for name, p := range ps {
		if slices.Contains(p.Members, login) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// inProject tells whether the caller may submit to (or, with
// share_project_jobs, see the jobs of) a project.
func (a *Agent) inProject(ctx context.Context, caller *api.Caller, project string) (bool, error) {
	if project == "" || project == DefaultProject {
		return true, nil
	}
	ps, err := a.projects(ctx)
	if err != nil {
		return false, err
	}
	p, ok := ps[project]
	return ok && slices.Contains(p.Members, caller.Login), nil
}

func projectView(p *api.Project) *api.Project {
	cp := *p
	cp.Members = slices.Clone(p.Members)
	if cp.Members == nil {
		cp.Members = []string{}
	}
	return &cp
}

func defaultProjectView() *api.Project {
	return &api.Project{Name: DefaultProject, Description: "open to every user", Priority: defaultPriority, Members: []string{}}
}

// Projects lists the caller's projects (every project for an admin), the
// default one first.
func (a *Agent) Projects(ctx context.Context, caller *api.Caller) ([]*api.Project, error) {
	ps, err := a.projects(ctx)
	if err != nil {
		return nil, err
	}
	out := []*api.Project{defaultProjectView()}
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if caller.Admin || slices.Contains(ps[n].Members, caller.Login) {
			out = append(out, projectView(ps[n]))
		}
	}
	return out, nil
}

// Project returns a project its members and admins may see.
func (a *Agent) Project(ctx context.Context, caller *api.Caller, name string) (*api.Project, error) {
	if name == DefaultProject {
		return defaultProjectView(), nil
	}
	ps, err := a.projects(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := ps[name]
	if !ok || (!caller.Admin && !slices.Contains(p.Members, caller.Login)) {
		return nil, errorf(http.StatusNotFound, "no project %s among yours", name)
	}
	return projectView(p), nil
}

func projectFieldError(field, msg string) error {
	return &Error{Code: http.StatusBadRequest, Msg: "invalid project", Fields: []api.FieldError{{Field: field, Message: msg}}}
}

func checkPriority(p int) error {
	if p < 0 || p > 100 {
		return projectFieldError("priority", fmt.Sprintf("a priority is 0 to 100, got %d", p))
	}
	return nil
}

// CreateProject creates a project (admins only). Members must be known
// users.
func (a *Agent) CreateProject(ctx context.Context, caller *api.Caller, p *api.Project) (*api.Project, error) {
	if !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: only admins can create projects")
	}
	switch {
	case p.Name == DefaultProject:
		return nil, projectFieldError("name", "the default project always exists; choose another name")
	case !projectName().MatchString(p.Name):
		return nil, projectFieldError("name", fmt.Sprintf("project names use lower-case letters, digits, '-' and '_', starting with a letter (at most 64); got %q", p.Name))
	case len(p.Description) > 1000:
		return nil, projectFieldError("description", "at most 1000 characters")
	}
	np := &api.Project{Name: p.Name, Description: p.Description, Priority: p.Priority, Created: time.Now().UTC(), Members: []string{}}
	if np.Priority == 0 {
		np.Priority = defaultPriority
	}
	if err := checkPriority(np.Priority); err != nil {
		return nil, err
	}
	if err := checkQuota(p.Quota); err != nil {
		return nil, err
	}
	np.Quota = normQuota(p.Quota)
	for _, m := range p.Members {
		if _, err := a.loadAccount(ctx, m); err != nil {
			return nil, projectFieldError("members", fmt.Sprintf("no user %s (users appear at their first login or first use of the agent)", m))
		}
		if !slices.Contains(np.Members, m) {
			np.Members = append(np.Members, m)
		}
	}
	if err := a.putProject(ctx, np); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errorf(http.StatusConflict, "project %s already exists", p.Name)
		}
		return nil, err
	}
	return projectView(np), nil
}

func (a *Agent) putProject(ctx context.Context, p *api.Project) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	r := &store.Record{Kind: store.KindProject, Key: p.Name, Value: data, Version: p.Version}
	err = a.rec.PutRecord(ctx, r)
	a.projs.forget()
	if err == nil {
		p.Version = r.Version
	}
	return err
}

// changeProject applies fn to a stored project, retrying on concurrent
// changes (admins only).
func (a *Agent) changeProject(ctx context.Context, caller *api.Caller, name string, fn func(*api.Project) error) (*api.Project, error) {
	if !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: only admins can change projects")
	}
	if name == DefaultProject {
		return nil, errorf(http.StatusBadRequest, "the default project cannot be changed")
	}
	for {
		r, err := a.rec.GetRecord(ctx, store.KindProject, name)
		if errors.Is(err, store.ErrNoRecord) {
			return nil, errorf(http.StatusNotFound, "no project %s", name)
		}
		if err != nil {
			return nil, err
		}
		p := &api.Project{}
		if err := json.Unmarshal(r.Value, p); err != nil {
			return nil, err
		}
		p.Version = r.Version
		if err := fn(p); err != nil {
			return nil, err
		}
		err = a.putProject(ctx, p)
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return nil, err
			}
			return projectView(p), nil
		}
	}
}

// UpdateProject changes a project's description or priority.
func (a *Agent) UpdateProject(ctx context.Context, caller *api.Caller, name string, u *api.ProjectUpdate) (*api.Project, error) {
	if u.Priority != nil {
		if err := checkPriority(*u.Priority); err != nil {
			return nil, err
		}
	}
	if u.Description != nil && len(*u.Description) > 1000 {
		return nil, projectFieldError("description", "at most 1000 characters")
	}
	if err := checkQuota(u.Quota); err != nil {
		return nil, err
	}
	return a.changeProject(ctx, caller, name, func(p *api.Project) error {
		if u.Description != nil {
			p.Description = *u.Description
		}
		if u.Priority != nil {
			p.Priority = *u.Priority
		}
		if u.Quota != nil {
			p.Quota = normQuota(u.Quota)
		}
		return nil
	})
}

func checkQuota(q *api.ProjectQuota) error {
	if q != nil && (q.RunningCPU < 0 || q.RunningMemory < 0 || q.RunningJobs < 0 || q.RunningGPUs < 0 || q.CPUHours < 0) {
		return projectFieldError("quota", "quota values are 0 (no cap) or positive")
	}
	return nil
}

// normQuota drops a quota that caps nothing.
func normQuota(q *api.ProjectQuota) *api.ProjectQuota {
	if q == nil || *q == (api.ProjectQuota{}) {
		return nil
	}
	cp := *q
	return &cp
}

// projectQuotas returns the quota of every project that has one, for a
// scheduling pass (read before it takes the agent's lock).
func (a *Agent) projectQuotas(ctx context.Context) map[string]*api.ProjectQuota {
	ps, err := a.projects(ctx)
	if err != nil {
		a.schedLog.Warn("reading project quotas", "error", err)
		return nil
	}
	out := map[string]*api.ProjectQuota{}
	for name, p := range ps {
		if p.Quota != nil {
			out[name] = p.Quota
		}
	}
	return out
}

// AddMember adds a known user to a project.
func (a *Agent) AddMember(ctx context.Context, caller *api.Caller, name, login string) (*api.Project, error) {
	if caller.Admin {
		if _, err := a.loadAccount(ctx, login); err != nil {
			return nil, errorf(http.StatusNotFound, "no user %s (users appear at their first login or first use of the agent)", login)
		}
	}
	return a.changeProject(ctx, caller, name, func(p *api.Project) error {
		if !slices.Contains(p.Members, login) {
			p.Members = append(p.Members, login)
		}
		return nil
	})
}

// RemoveMember removes a user from a project; their jobs in it go on.
func (a *Agent) RemoveMember(ctx context.Context, caller *api.Caller, name, login string) (*api.Project, error) {
	return a.changeProject(ctx, caller, name, func(p *api.Project) error {
		i := slices.Index(p.Members, login)
		if i < 0 {
			return errorf(http.StatusNotFound, "%s is not a member of project %s", login, name)
		}
		p.Members = slices.Delete(p.Members, i, i+1)
		return nil
	})
}

// DeleteProject removes a project. Jobs submitted to it keep its name.
func (a *Agent) DeleteProject(ctx context.Context, caller *api.Caller, name string) error {
	if !caller.Admin {
		return errorf(http.StatusForbidden, "permission denied: only admins can delete projects")
	}
	if name == DefaultProject {
		return errorf(http.StatusBadRequest, "the default project cannot be deleted")
	}
	err := a.rec.DeleteRecord(ctx, store.KindProject, name, 0)
	a.projs.forget()
	if errors.Is(err, store.ErrNoRecord) {
		return errorf(http.StatusNotFound, "no project %s", name)
	}
	return err
}
