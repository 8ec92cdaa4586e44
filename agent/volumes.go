package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// siteVolumes returns the volumes admins defined through the API.
func (a *Agent) siteVolumes(ctx context.Context) (map[string]*config.Volume, error) {
	return a.vols.get(ctx, a.rec, nil)
}

// volumeDef finds a volume by name: the agent's volume blocks first, then
// those admins defined through the API.
func (a *Agent) volumeDef(name string) (*config.Volume, error) {
	for _, v := range a.cfg.Volumes {
		if v.Name == name {
			return v, nil
		}
	}
	vs, err := a.siteVolumes(context.Background())
	if err != nil {
		return nil, err
	}
	return vs[name], nil
}

// CreateVolume defines a volume (admins only), checked as the volume blocks
// of the configuration are; it is usable at once, by every agent.
func (a *Agent) CreateVolume(ctx context.Context, caller *api.Caller, in *api.Volume) (*api.Volume, error) {
	if !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: only admins can define volumes")
	}
	v := &config.Volume{Name: in.Name, Path: in.Path, Mount: in.Mount, ReadOnly: in.ReadOnly, Users: in.Users, Groups: in.Groups, Projects: in.Projects}
	if errs := config.CheckVolume(v); len(errs) > 0 {
		fe := make([]api.FieldError, len(errs))
		for i, e := range errs {
			fe[i] = api.FieldError{Field: "volume", Message: e}
		}
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid volume", Fields: fe}
	}
	for _, c := range a.cfg.Volumes {
		if c.Name == v.Name {
			return nil, errorf(http.StatusConflict, "volume %s is defined in the agent's configuration; choose another name", v.Name)
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	err = a.rec.PutRecord(ctx, &store.Record{Kind: store.KindVolume, Key: v.Name, Value: data})
	a.vols.forget()
	if errors.Is(err, store.ErrConflict) {
		return nil, errorf(http.StatusConflict, "volume %s already exists; delete it first to change it", v.Name)
	}
	if err != nil {
		return nil, err
	}
	return volumeView(v, false), nil
}

// DeleteVolume removes a volume admins defined (admins only). Jobs that
// asked for it and have not started yet fail at dispatch with the reason.
func (a *Agent) DeleteVolume(ctx context.Context, caller *api.Caller, name string) error {
	if !caller.Admin {
		return errorf(http.StatusForbidden, "permission denied: only admins can delete volumes")
	}
	for _, c := range a.cfg.Volumes {
		if c.Name == name {
			return errorf(http.StatusConflict, "volume %s is defined in the agent's configuration: remove its block there", name)
		}
	}
	err := a.rec.DeleteRecord(ctx, store.KindVolume, name, 0)
	a.vols.forget()
	if errors.Is(err, store.ErrNoRecord) {
		return errorf(http.StatusNotFound, "no volume %s", name)
	}
	return err
}

func volumeView(v *config.Volume, usable bool) *api.Volume {
	return &api.Volume{
		Name: v.Name, Path: v.Path, Mount: v.Mount, ReadOnly: v.ReadOnly,
		Users: v.Users, Groups: v.Groups, Projects: v.Projects, Usable: usable,
	}
}

// Volumes lists the volumes and whether the caller may use them.
func (a *Agent) Volumes(ctx context.Context, caller *api.Caller) ([]*api.Volume, error) {
	groups, err := a.groupsOf(ctx, caller.User)
	if err != nil {
		return nil, err
	}
	home := caller.Home
	if home == "" {
		home = "(none)"
	}
	out := []*api.Volume{{Name: "home", Path: home, Mount: home, Usable: caller.Home != ""}}
	for _, v := range a.cfg.Volumes {
		out = append(out, volumeView(v, volumeACL(v, caller.Name, groups, DefaultProject)))
	}
	site, err := a.siteVolumes(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(site))
	for n := range site {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		vv := volumeView(site[n], volumeACL(site[n], caller.Name, groups, DefaultProject))
		vv.Defined = "api"
		out = append(out, vv)
	}
	return out, nil
}
