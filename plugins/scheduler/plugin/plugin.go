// Package plugin serves a scheduler policy as an out-of-process plugin of
// the GoDocker agent, over gRPC with hashicorp/go-plugin. A plugin is a
// main package that calls Serve:
//
//	func main() { plugin.Serve(myPolicy{}) }
//
// The agent starts the binary, asks its Info, passes it the scheduler
// block's config map once (see Configurable), then calls Order once per
// scheduling cycle.
package plugin

import (
	"context"
	"errors"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/proto"
)

// Handshake is what the agent and a plugin check before talking: a plugin
// binary run by hand says it is a plugin instead of hanging, and a plugin
// of another protocol version is refused.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  proto.ProtocolVersion,
	MagicCookieKey:   "GOD_SCHEDULER_PLUGIN",
	MagicCookieValue: "bee822085a5707dc0117d3205de4c344",
}

// Name is the name the policy is dispensed under.
const Name = "scheduler"

// MaxMessageSize bounds a snapshot or an order on the wire. gRPC's default
// of 4 MiB holds about 100,000 jobs; this holds millions.
const MaxMessageSize = 512 << 20

// windowSize is gRPC's flow-control window. The default (64 KiB, grown
// by estimates) makes a 5 MB snapshot cross in dozens of round trips, each
// waiting for the other process to be scheduled: on a busy machine that
// cost more than all the encoding.
const windowSize = 64 << 20

// bufferSize is gRPC's read and write buffers (default 32 KiB).
const bufferSize = 1 << 20

// ServerOptions and DialOptions are the gRPC settings of both ends.
var (
	ServerOptions = []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(windowSize), grpc.InitialConnWindowSize(windowSize),
		grpc.ReadBufferSize(bufferSize), grpc.WriteBufferSize(bufferSize),
	}
	DialOptions = []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithInitialWindowSize(windowSize), grpc.WithInitialConnWindowSize(windowSize),
		grpc.WithReadBufferSize(bufferSize), grpc.WithWriteBufferSize(bufferSize),
	}
)

// Configurable is implemented by policies that take the scheduler block's
// config map. Configure is called once, before the first Order; an error
// stops the agent with the message. A policy that is not Configurable
// refuses a non-empty map.
type Configurable interface {
	Configure(config map[string]string) error
}

// Serve serves s to the agent that started this process and returns when
// the agent stops it. Run by hand, it prints that it is a plugin and exits.
func Serve(s scheduler.Scheduler) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{Name: &GRPCPlugin{Impl: s}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, ServerOptions...)...)
		},
	})
}

// GRPCPlugin is the go-plugin glue on both sides: a plugin serves Impl, the
// agent dispenses a proto.SchedulerClient.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Impl scheduler.Scheduler
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer implements goplugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("scheduler plugin: no policy to serve")
	}
	proto.RegisterSchedulerServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient implements goplugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return proto.NewSchedulerClient(c), nil
}

type server struct {
	proto.UnimplementedSchedulerServer
	impl scheduler.Scheduler
}

func (s *server) Info(context.Context, *proto.InfoRequest) (*proto.InfoResponse, error) {
	return &proto.InfoResponse{Name: s.impl.Name(), ProtocolVersion: proto.ProtocolVersion}, nil
}

func (s *server) Configure(_ context.Context, req *proto.ConfigureRequest) (*proto.ConfigureResponse, error) {
	c, ok := s.impl.(Configurable)
	switch {
	case ok:
		if err := c.Configure(req.GetConfig()); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	case len(req.GetConfig()) > 0:
		return nil, status.Errorf(codes.InvalidArgument, "the %s policy takes no configuration; remove the scheduler block's config", s.impl.Name())
	}
	return &proto.ConfigureResponse{}, nil
}

func (s *server) Order(ctx context.Context, m *proto.Snapshot) (*proto.Decisions, error) {
	snap, err := proto.DecodeSnapshot(m)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	ds, err := s.impl.Order(ctx, snap)
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return proto.EncodeDecisions(ds), nil
}
