package provider_test

// The harness: the provider served in-process by pulumi-go-provider's integration package (the
// layer just above gRPC), its user-visible logs captured from slog (where pulumi-go-provider
// sends them when no engine is attached), and helpers to build inputs.

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"synapse.test/engine/command-provider/internal/sshtest"
	"synapse.test/engine/command-provider/provider"
)

const commandType tokens.Type = "command:remote:Command"

func urnOf(name string) presource.URN {
	return presource.NewURN("test", "proj", "", commandType, name)
}

// logRecord is one user-visible log message.
type logRecord struct {
	Level  slog.Level
	Msg    string
	Status bool // an ephemeral status message (InfoStatus etc.), not a diagnostic
	URN    string
}

type logSink struct {
	mu      sync.Mutex
	records []logRecord
}

type captureHandler struct {
	sink   *logSink
	status bool
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Status: h.status}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "urn":
			rec.URN = a.Value.String()
		case "kind":
			rec.Status = rec.Status || a.Value.String() == "status"
		}
		return true
	})
	h.sink.mu.Lock()
	h.sink.records = append(h.sink.records, rec)
	h.sink.mu.Unlock()
	return nil
}

func (h captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "kind" && a.Value.String() == "status" {
			h.status = true
		}
	}
	return h
}

func (h captureHandler) WithGroup(string) slog.Handler { return h }

type harness struct {
	t      *testing.T
	server integration.Server
	logs   *logSink
}

// newHarness serves a fresh provider. Tests using it must not run in parallel (slog is global).
func newHarness(t *testing.T) *harness {
	t.Helper()
	server, err := integration.NewServer(t.Context(), provider.Name, semver.MustParse(provider.Version),
		integration.WithProvider(provider.New()))
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	previous := slog.Default()
	slog.SetDefault(slog.New(captureHandler{sink: sink}))
	t.Cleanup(func() { slog.SetDefault(previous) })
	return &harness{t: t, server: server, logs: sink}
}

// logsOf returns the log messages about the resource name.
func (h *harness) logsOf(name string) []logRecord {
	h.logs.mu.Lock()
	defer h.logs.mu.Unlock()
	var out []logRecord
	for _, r := range h.logs.records {
		if r.URN == string(urnOf(name)) {
			out = append(out, r)
		}
	}
	return out
}

// statusLines returns the info status messages about the resource name (streamed output, dial
// retries).
func (h *harness) statusLines(name string) []string {
	var out []string
	for _, r := range h.logsOf(name) {
		if r.Status && r.Level == slog.LevelInfo {
			out = append(out, r.Msg)
		}
	}
	return out
}

// wire sends properties through the gRPC wire format and back, as they travel between the
// provider and the engine (the integration server skips that; without it an asset returned by
// Check stays the plain map pulumi-go-provider encodes it to).
func (h *harness) wire(m property.Map) property.Map {
	h.t.Helper()
	opts := plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}
	pb, err := plugin.MarshalProperties(presource.ToResourcePropertyMap(m), opts)
	if err != nil {
		h.t.Fatalf("marshal: %v", err)
	}
	back, err := plugin.UnmarshalProperties(pb, opts)
	if err != nil {
		h.t.Fatalf("unmarshal: %v", err)
	}
	return presource.FromResourcePropertyMap(back)
}

// check runs Check and fails the test on check failures.
func (h *harness) check(name string, inputs property.Map) property.Map {
	h.t.Helper()
	resp, err := h.server.Check(p.CheckRequest{Urn: urnOf(name), Inputs: inputs})
	if err != nil {
		h.t.Fatalf("check: %v", err)
	}
	if len(resp.Failures) > 0 {
		h.t.Fatalf("check failures: %+v", resp.Failures)
	}
	return h.wire(resp.Inputs)
}

func (h *harness) create(name string, inputs property.Map, preview bool) (p.CreateResponse, error) {
	resp, err := h.server.Create(p.CreateRequest{Urn: urnOf(name), Properties: h.check(name, inputs), DryRun: preview})
	resp.Properties = h.wire(resp.Properties)
	return resp, err
}

// mustCreate creates the resource and returns its ID and state.
func (h *harness) mustCreate(name string, inputs property.Map) (string, property.Map) {
	h.t.Helper()
	resp, err := h.create(name, inputs, false)
	if err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return resp.ID, resp.Properties
}

func (h *harness) diff(name, id string, state, inputs property.Map) p.DiffResponse {
	h.t.Helper()
	resp, err := h.server.Diff(p.DiffRequest{ID: id, Urn: urnOf(name), State: state, Inputs: h.check(name, inputs)})
	if err != nil {
		h.t.Fatalf("diff: %v", err)
	}
	return resp
}

func (h *harness) update(name, id string, state, inputs property.Map, preview bool) (p.UpdateResponse, error) {
	resp, err := h.server.Update(p.UpdateRequest{
		ID: id, Urn: urnOf(name), State: state, Inputs: h.check(name, inputs), DryRun: preview,
	})
	resp.Properties = h.wire(resp.Properties)
	return resp, err
}

func (h *harness) delete(name, id string, state property.Map) error {
	return h.server.Delete(p.DeleteRequest{ID: id, Urn: urnOf(name), Properties: state})
}

// str is a string property.
func str(s string) property.Value { return property.New(s) }

// obj builds a property map from alternating keys and values.
func obj(kv ...any) property.Map {
	m := map[string]property.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(property.Value)
	}
	return property.NewMap(m)
}

// with returns m with more keys set.
func with(m property.Map, kv ...any) property.Map {
	for i := 0; i < len(kv); i += 2 {
		m = m.Set(kv[i].(string), kv[i+1].(property.Value))
	}
	return m
}

// keyConn is a connection to the server with its client key, as a program would pass it.
func keyConn(s *sshtest.Server, kv ...any) property.Value {
	m := obj("host", str(s.Host), "port", property.New(float64(s.Port)), "user", str("deploy"),
		"privateKey", str(s.ClientKey))
	return property.New(with(m, kv...))
}

// getString returns the string at key (unwrapping a secret), "" when absent.
func getString(m property.Map, key string) string {
	v := m.Get(key)
	if v.IsString() {
		return v.AsString()
	}
	return ""
}
