package plugin

import (
	"context"
	"errors"
	"testing"

	"github.com/shoenig/test/must"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/plugins/scheduler/proto"
)

type configurable struct {
	fifo.Scheduler
	got map[string]string
}

func (c *configurable) Configure(m map[string]string) error {
	if m["bad"] != "" {
		return errors.New("bad: " + m["bad"])
	}
	c.got = m
	return nil
}

type failing struct{ fifo.Scheduler }

func (failing) Order(context.Context, *scheduler.Snapshot) ([]scheduler.Decision, error) {
	return nil, errors.New("no database")
}

func TestServer_info(t *testing.T) {
	info, err := (&server{impl: fifo.Scheduler{}}).Info(context.Background(), &proto.InfoRequest{})
	must.NoError(t, err)
	must.Eq(t, "fifo", info.GetName())
	must.Eq(t, proto.ProtocolVersion, info.GetProtocolVersion())
}

func TestServer_configure(t *testing.T) {
	ctx := context.Background()
	c := &configurable{}
	_, err := (&server{impl: c}).Configure(ctx, &proto.ConfigureRequest{Config: map[string]string{"k": "v"}})
	must.NoError(t, err)
	must.Eq(t, map[string]string{"k": "v"}, c.got)

	_, err = (&server{impl: c}).Configure(ctx, &proto.ConfigureRequest{Config: map[string]string{"bad": "x"}})
	must.Eq(t, codes.InvalidArgument, status.Code(err))
	must.Eq(t, "bad: x", status.Convert(err).Message())

	// A policy without settings takes an empty map, and refuses others.
	_, err = (&server{impl: fifo.Scheduler{}}).Configure(ctx, &proto.ConfigureRequest{})
	must.NoError(t, err)
	_, err = (&server{impl: fifo.Scheduler{}}).Configure(ctx, &proto.ConfigureRequest{Config: map[string]string{"k": "v"}})
	must.Eq(t, codes.InvalidArgument, status.Code(err))
	must.StrContains(t, err.Error(), "the fifo policy takes no configuration")
}

func TestServer_order(t *testing.T) {
	ctx := context.Background()
	snap := proto.EncodeSnapshot(&scheduler.Snapshot{Pending: []scheduler.Job{{ID: 9}, {ID: 3}}})
	m, err := (&server{impl: fifo.Scheduler{}}).Order(ctx, snap)
	must.NoError(t, err)
	must.Eq(t, []int64{3, 9}, m.GetJobId())

	_, err = (&server{impl: failing{}}).Order(ctx, snap)
	must.Eq(t, codes.Unknown, status.Code(err))
	must.Eq(t, "no database", status.Convert(err).Message())

	snap.Pending.Uid = nil
	_, err = (&server{impl: fifo.Scheduler{}}).Order(ctx, snap)
	must.Eq(t, codes.InvalidArgument, status.Code(err))
}

func TestGRPCServer_needsAPolicy(t *testing.T) {
	must.ErrorContains(t, (&GRPCPlugin{}).GRPCServer(nil, nil), "no policy to serve")
}
