package provider_test

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/ssh/agent"

	"synapse.test/engine/command-provider/internal/sshtest"
)

// The warning for a refused PULUMI_COMMAND_STDOUT, byte for byte as pulumi-command 1.2.1 logs it.
const stdoutRefusedWarning = "Unable to set 'PULUMI_COMMAND_STDOUT'. This only works if your SSH server is " +
	"configured to accept\n\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the " +
	"command on the remote host, you could\n\tprefix the command itself with the variables in the form " +
	"'VAR=value command'"

func commands(execs []sshtest.Exec) []string {
	var out []string
	for _, e := range execs {
		out = append(out, e.Command)
	}
	return out
}

func TestCheckAppliesTheDefaultsAndMarksTheConnectionSecret(t *testing.T) {
	h := newHarness(t)
	checked := h.check("defaults", obj("connection", property.New(obj("host", str("192.0.2.1"))),
		"create", str("true")))
	conn := checked.Get("connection")
	if !conn.Secret() {
		t.Errorf("connection is not secret: %v", conn)
	}
	got := conn.AsMap()
	want := obj("host", str("192.0.2.1"), "user", str("root"), "port", property.New(22.0),
		"dialErrorLimit", property.New(10.0), "perDialTimeout", property.New(15.0))
	if !property.New(got).Equals(property.New(want)) {
		t.Errorf("checked connection = %v, want %v", got, want)
	}

	resp, err := h.server.Check(p.CheckRequest{Urn: urnOf("bad"), Inputs: obj("create", str("true"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Failures) != 1 || resp.Failures[0].Property != "connection" {
		t.Errorf("no connection: failures %+v, want one on connection", resp.Failures)
	}

	// pulumi-go-provider does not check enum values: an unknown logging mode passes Check (and
	// then logs nothing), as with the real provider.
	resp, err = h.server.Check(p.CheckRequest{Urn: urnOf("enum"), Inputs: obj(
		"connection", property.New(obj("host", str("h"))), "logging", str("everything"))})
	if err != nil || len(resp.Failures) != 0 {
		t.Errorf("an unknown logging mode: %v %+v", err, resp.Failures)
	}
}

func TestPreviewRunsNothing(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	inputs := obj("connection", keyConn(s), "create", str("echo created"), "update", str("echo updated"))

	resp, err := h.create("pv", inputs, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ID, "pv") {
		t.Errorf("preview ID %q", resp.ID)
	}
	if s.Accepts() != 0 {
		t.Errorf("a create preview connected %d times", s.Accepts())
	}

	id, state := h.mustCreate("pv", inputs)
	before := s.Accepts()
	up, err := h.update("pv", id, state, with(inputs, "update", str("echo again")), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Accepts() != before {
		t.Errorf("an update preview connected")
	}
	// pulumi-go-provider marks every output unknown in the preview of an update that changes an
	// input the state holds
	if got := up.Properties.Get("stdout"); !got.IsComputed() {
		t.Errorf("update preview stdout = %v, want unknown", got)
	}
}

func TestCreateRunsCreateWithStdin(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	id, state := h.mustCreate("mk", obj("connection", keyConn(s),
		"create", str("cat; echo to-stderr >&2"), "stdin", str("line one\nline two\n\n")))

	if !regexp.MustCompile(`^mk[0-9a-f]{8}$`).MatchString(id) {
		t.Errorf("ID %q is not the name plus 8 hex digits", id)
	}
	execs := s.Execs()
	if len(execs) != 1 || execs[0].Command != "cat; echo to-stderr >&2" || execs[0].Stdin != "line one\nline two\n\n" {
		t.Fatalf("the server ran %+v", execs)
	}
	// one trailing newline is trimmed, not more
	if got := getString(state, "stdout"); got != "line one\nline two\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := getString(state, "stderr"); got != "to-stderr" {
		t.Errorf("stderr = %q", got)
	}
	if !state.Get("connection").Secret() {
		t.Errorf("the connection output is not secret")
	}
	if getString(state, "create") != "cat; echo to-stderr >&2" {
		t.Errorf("the inputs are not in the outputs: %v", state)
	}
}

func TestCreateWithoutCreateConnectsNowhere(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	_, state := h.mustCreate("nocreate", obj("connection", keyConn(s), "delete", str("echo bye")))
	if s.Accepts() != 0 {
		t.Errorf("connected %d times", s.Accepts())
	}
	if getString(state, "stdout") != "" || !state.Get("stdout").IsString() {
		t.Errorf("stdout = %v, want an empty string", state.Get("stdout"))
	}
}

// The provider's Diff is pulumi-go-provider's: `triggers` is replaceOnChanges, so adding or
// removing it is a replacement; a changed element is reported as "triggers[0]: update", which the
// engine turns into a replacement because the @pulumi/command SDK registers every Command with
// replaceOnChanges: ["triggers[*]"]. Any other change is an update.
func TestDiffReplacesOnTriggersAndUpdatesOnAnythingElse(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	other := sshtest.Start(t)
	triggers := func(vs ...string) property.Value {
		var arr []property.Value
		for _, v := range vs {
			arr = append(arr, str(v))
		}
		return property.New(property.NewArray(arr))
	}
	base := obj("connection", keyConn(s), "create", str("echo a"), "stdin", str("in"), "triggers", triggers("v1"))
	id, state := h.mustCreate("df", base)

	if d := h.diff("df", id, state, base); d.HasChanges || len(d.DetailedDiff) != 0 {
		t.Errorf("unchanged inputs: %+v", d)
	}
	for _, tc := range []struct {
		name   string
		inputs property.Map
		key    string
		want   p.DiffKind
	}{
		{"triggers element changed", with(base, "triggers", triggers("v2")), "triggers[0]", p.Update},
		{"triggers element added", with(base, "triggers", triggers("v1", "v2")), "triggers[1]", p.Add},
		{"triggers removed", base.Delete("triggers"), "triggers", p.DeleteReplace},
		{"create", with(base, "create", str("echo b")), "create", p.Update},
		{"stdin", with(base, "stdin", str("other")), "stdin", p.Update},
		{"connection", with(base, "connection", keyConn(other)), "connection", p.Update},
		{"update added", with(base, "update", str("echo u")), "update", p.Add},
		{"environment", with(base, "environment", property.New(obj("A", str("1")))), "environment", p.Add},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := h.diff("df", id, state, tc.inputs)
			if !d.HasChanges {
				t.Fatalf("no changes: %+v", d)
			}
			if len(d.DetailedDiff) != 1 {
				t.Errorf("detailed diff %+v, want only %s", d.DetailedDiff, tc.key)
			}
			if got := d.DetailedDiff[tc.key].Kind; got != tc.want {
				t.Errorf("%s: kind %q, want %q", tc.key, got, tc.want)
			}
		})
	}

	noTriggers := base.Delete("triggers")
	id2, state2 := h.mustCreate("df2", noTriggers)
	d := h.diff("df2", id2, state2, with(noTriggers, "triggers", triggers("v1")))
	if got := d.DetailedDiff["triggers"].Kind; got != p.AddReplace || len(d.DetailedDiff) != 1 {
		t.Errorf("triggers added: %+v", d.DetailedDiff)
	}
}

func TestUpdateRunsUpdateElseCreate(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	base := obj("connection", keyConn(s), "create", str("echo created"), "update", str("echo updated"),
		"addPreviousOutputInEnv", property.New(false))
	id, state := h.mustCreate("up", base)

	up, err := h.update("up", id, state, with(base, "stdin", str("x")), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := getString(up.Properties, "stdout"); got != "updated" {
		t.Errorf("with update: stdout %q", got)
	}

	noUpdate := obj("connection", keyConn(s), "create", str("echo created again"), "addPreviousOutputInEnv",
		property.New(false))
	up2, err := h.update("up", id, up.Properties, noUpdate, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := getString(up2.Properties, "stdout"); got != "created again" {
		t.Errorf("without update: stdout %q", got)
	}
	if got, want := commands(s.Execs()), []string{"echo created", "echo updated", "echo created again"}; !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q", got, want)
	}

	// neither command: nothing runs, the previous output stays
	bare := obj("connection", keyConn(s), "delete", str("true"))
	up3, err := h.update("up", id, up2.Properties, bare, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Execs()) != 3 || getString(up3.Properties, "stdout") != "created again" {
		t.Errorf("no create/update: ran %q, stdout %q", commands(s.Execs()), getString(up3.Properties, "stdout"))
	}
}

func TestDeleteRunsDeleteWithThePreviousOutput(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	id, state := h.mustCreate("rm", obj("connection", keyConn(s), "create", str("echo out; echo err >&2"),
		"delete", str(`echo "deleting $PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR"`)))
	if err := h.delete("rm", id, state); err != nil {
		t.Fatal(err)
	}
	execs := s.Execs()
	if len(execs) != 2 || !strings.HasPrefix(execs[1].Command, "echo \"deleting") {
		t.Fatalf("ran %q", commands(execs))
	}
	if execs[1].Env["PULUMI_COMMAND_STDOUT"] != "out" || execs[1].Env["PULUMI_COMMAND_STDERR"] != "err" {
		t.Errorf("delete env %v", execs[1].Env)
	}
	if got := h.statusLines("rm"); !slices.Contains(got, "deleting out/err") {
		t.Errorf("delete output not logged: %q", got)
	}

	// no delete command: nothing runs
	id2, state2 := h.mustCreate("keep", obj("connection", keyConn(s), "create", str("echo x")))
	before := s.Accepts()
	if err := h.delete("keep", id2, state2); err != nil {
		t.Fatal(err)
	}
	if s.Accepts() != before {
		t.Errorf("a delete without a delete command connected")
	}
}

func TestLoggingModes(t *testing.T) {
	cmd := "echo out-1; echo out-2; echo err-1 >&2"
	for _, tc := range []struct {
		logging string // "" = unset
		want    []string
	}{
		{"", []string{"out-1", "out-2", "err-1"}},
		{"stdoutAndStderr", []string{"out-1", "out-2", "err-1"}},
		{"stdout", []string{"out-1", "out-2"}},
		{"stderr", []string{"err-1"}},
		{"none", nil},
	} {
		t.Run("logging="+tc.logging, func(t *testing.T) {
			h := newHarness(t)
			s := sshtest.Start(t)
			inputs := obj("connection", keyConn(s), "create", str(cmd))
			if tc.logging != "" {
				inputs = with(inputs, "logging", str(tc.logging))
			}
			_, state := h.mustCreate("lg", inputs)
			got := h.statusLines("lg")
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("logged %q, want %q", got, want)
			}
			// logging never changes what is captured
			if getString(state, "stdout") != "out-1\nout-2" || getString(state, "stderr") != "err-1" {
				t.Errorf("captured stdout %q stderr %q", getString(state, "stdout"), getString(state, "stderr"))
			}
		})
	}
}

func TestAddPreviousOutputInEnv(t *testing.T) {
	setup := func(t *testing.T, extra ...any) (*harness, *sshtest.Server, property.Map, string, property.Map) {
		h := newHarness(t)
		s := sshtest.Start(t)
		inputs := with(obj("connection", keyConn(s), "create", str("echo first"),
			"update", str(`echo "previous=$PULUMI_COMMAND_STDOUT"`)), extra...)
		id, state := h.mustCreate("prev", inputs)
		return h, s, inputs, id, state
	}

	t.Run("default true: sent as an env request", func(t *testing.T) {
		h, s, inputs, id, state := setup(t)
		if n := len(s.EnvRequests()); n != 0 {
			t.Fatalf("create (no previous output) sent %d env requests", n)
		}
		up, err := h.update("prev", id, state, with(inputs, "stdin", str("x")), false)
		if err != nil {
			t.Fatal(err)
		}
		want := []sshtest.EnvRequest{{Name: "PULUMI_COMMAND_STDOUT", Value: "first", Accepted: true}}
		if got := s.EnvRequests(); !slices.Equal(got, want) {
			t.Errorf("env requests %+v, want %+v (empty stderr is not sent)", got, want)
		}
		if got := getString(up.Properties, "stdout"); got != "previous=first" {
			t.Errorf("stdout %q", got)
		}
	})

	t.Run("refused: a warning, and the command still runs", func(t *testing.T) {
		h, s, inputs, id, state := setup(t)
		s.AcceptEnv(func(string) bool { return false })
		up, err := h.update("prev", id, state, with(inputs, "stdin", str("x")), false)
		if err != nil {
			t.Fatalf("update failed: %v", err)
		}
		if got := getString(up.Properties, "stdout"); got != "previous=" {
			t.Errorf("stdout %q", got)
		}
		var warnings []string
		for _, r := range h.logsOf("prev") {
			if r.Level == slog.LevelWarn && !r.Status {
				warnings = append(warnings, r.Msg)
			}
		}
		if !slices.Equal(warnings, []string{stdoutRefusedWarning}) {
			t.Errorf("warnings %q, want %q", warnings, stdoutRefusedWarning)
		}
	})

	t.Run("false: nothing sent", func(t *testing.T) {
		h, s, inputs, id, state := setup(t, "addPreviousOutputInEnv", property.New(false))
		_, err := h.update("prev", id, state, with(inputs, "stdin", str("x")), false)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.EnvRequests(); len(got) != 0 {
			t.Errorf("env requests %+v", got)
		}
		if got := commands(s.Execs()); len(got) != 2 {
			t.Errorf("ran %q", got)
		}
	})
}

func TestEnvironment(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	s.AcceptEnv(func(name string) bool { return name == "GREETING" })

	_, state := h.mustCreate("env-ok", obj("connection", keyConn(s), "create", str(`echo "$GREETING"`),
		"environment", property.New(obj("GREETING", str("hi there")))))
	if got := getString(state, "stdout"); got != "hi there" {
		t.Errorf("stdout %q", got)
	}

	_, err := h.create("env-refused", obj("connection", keyConn(s), "create", str("echo never"),
		"environment", property.New(obj("SECRET_THING", str("x")))), false)
	want := `could not set environment variable "SECRET_THING": ssh: setenv failed`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if slices.Contains(commands(s.Execs()), "echo never") {
		t.Errorf("the command ran")
	}
	var errorLogs []string
	for _, r := range h.logsOf("env-refused") {
		if r.Level == slog.LevelError {
			errorLogs = append(errorLogs, r.Msg)
		}
	}
	if len(errorLogs) != 1 || !strings.HasPrefix(errorLogs[0], "Unable to set 'SECRET_THING'. This only works") {
		t.Errorf("error diagnostics %q", errorLogs)
	}
}

func TestFailureErrorText(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	cmd := "echo about to fail; sleep 0.2; echo oops >&2; exit 3"
	_, err := h.create("fail", obj("connection", keyConn(s), "create", str(cmd)), false)
	want := fmt.Sprintf("Process exited with status 3: running %q:\nabout to fail\noops\n", cmd)
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}

	// an update that fails reports the same way and returns no new state
	id, state := h.mustCreate("fail-up", obj("connection", keyConn(s), "create", str("echo ok")))
	up, err := h.update("fail-up", id, state, obj("connection", keyConn(s), "create", str("exit 1")), false)
	if err == nil || err.Error() != "Process exited with status 1: running \"exit 1\":\n" {
		t.Errorf("update error %q", err)
	}
	if up.Properties.Len() != 0 {
		t.Errorf("a failed update returned state %v", up.Properties)
	}
}

func TestDialRetriesStopAtTheLimit(t *testing.T) {
	for _, limit := range []int{0, 2} {
		t.Run(fmt.Sprint("dialErrorLimit=", limit), func(t *testing.T) {
			h := newHarness(t)
			r := sshtest.StartRefuser(t)
			conn := obj("host", str("127.0.0.1"), "port", property.New(float64(r.Port)),
				"password", str("x"), "dialErrorLimit", property.New(float64(limit)))
			_, err := h.create("dial", obj("connection", property.New(conn), "create", str("true")), false)
			want := fmt.Sprintf("after %d failed attempts: ssh: handshake failed: EOF", limit)
			if err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
			if got := r.Accepts(); got != limit+1 {
				t.Errorf("%d dials, want %d", got, limit+1)
			}
			var want2 []string
			for i := 1; i <= limit; i++ {
				want2 = append(want2, fmt.Sprintf("Dial %d/%d failed: retrying", i, limit))
			}
			if got := h.statusLines("dial"); !slices.Equal(got, want2) {
				t.Errorf("status %q, want %q", got, want2)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		h := newHarness(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		conn := obj("host", str("127.0.0.1"), "port", property.New(float64(port)), "password", str("x"),
			"dialErrorLimit", property.New(1.0))
		_, err = h.create("refused", obj("connection", property.New(conn), "create", str("true")), false)
		want := "after 1 failed attempts: dial tcp " + addr + ": connect: connection refused"
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
}

func TestDialRetriesUntilTheHostAnswers(t *testing.T) {
	for _, tc := range []struct {
		limit float64
		want  []string
	}{
		{-1, []string{"Dial 1/inf failed: retrying", "Dial 2/inf failed: retrying"}},
		{2, []string{"Dial 1/2 failed: retrying", "Dial 2/2 failed: retrying"}},
	} {
		t.Run(fmt.Sprint("dialErrorLimit=", tc.limit), func(t *testing.T) {
			h := newHarness(t)
			s := sshtest.Start(t)
			s.DropFirst(2)
			_, state := h.mustCreate("boot", obj("connection", keyConn(s, "dialErrorLimit", property.New(tc.limit)),
				"create", str("echo up")))
			if getString(state, "stdout") != "up" || s.Accepts() != 3 {
				t.Errorf("stdout %q after %d dials", getString(state, "stdout"), s.Accepts())
			}
			if got := h.statusLines("boot"); !slices.Equal(got, append(tc.want, "up")) {
				t.Errorf("status %q", got)
			}
		})
	}
}

func TestHostKeyChecking(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	other := sshtest.Start(t)

	if _, err := h.create("hk-ok", obj("connection", keyConn(s, "hostKey", str(s.HostKey)),
		"create", str("true")), false); err != nil {
		t.Errorf("the right host key: %v", err)
	}
	_, err := h.create("hk-wrong", obj("connection", keyConn(s, "hostKey", str(other.HostKey),
		"dialErrorLimit", property.New(0.0)), "create", str("true")), false)
	if err == nil || !strings.Contains(err.Error(), "ssh: host key mismatch") {
		t.Errorf("a wrong host key: %v", err)
	}
	_, err = h.create("hk-bad", obj("connection", keyConn(s, "hostKey", str("not a key")),
		"create", str("true")), false)
	if err == nil || !strings.HasPrefix(err.Error(), "failed to parse host key: ") {
		t.Errorf("an unparsable host key: %v", err)
	}
}

func TestPasswordAuthentication(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	conn := obj("host", str(s.Host), "port", property.New(float64(s.Port)), "user", str(s.User),
		"password", str(s.Password))
	_, state := h.mustCreate("pw", obj("connection", property.New(conn), "create", str("echo in")))
	if getString(state, "stdout") != "in" {
		t.Errorf("stdout %q", getString(state, "stdout"))
	}
	bad := with(conn, "password", str("wrong"), "dialErrorLimit", property.New(0.0))
	_, err := h.create("pw-bad", obj("connection", property.New(bad), "create", str("true")), false)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("a wrong password: %v", err)
	}
}

func TestProxy(t *testing.T) {
	h := newHarness(t)
	target := sshtest.Start(t)
	bastion := sshtest.Start(t)
	proxy := obj("host", str(bastion.Host), "port", property.New(float64(bastion.Port)), "user", str("deploy"),
		"privateKey", str(bastion.ClientKey))
	_, state := h.mustCreate("px", obj("connection", keyConn(target, "proxy", property.New(proxy)),
		"create", str("echo via proxy")))
	if getString(state, "stdout") != "via proxy" || len(target.Execs()) != 1 || len(bastion.Execs()) != 0 {
		t.Errorf("stdout %q; target ran %q, bastion ran %q", getString(state, "stdout"),
			commands(target.Execs()), commands(bastion.Execs()))
	}
	if got := bastion.Forwards(); !slices.Equal(got, []string{fmt.Sprintf("127.0.0.1:%d", target.Port)}) {
		t.Errorf("bastion forwarded %q", got)
	}

	r := sshtest.StartRefuser(t)
	deadProxy := obj("host", str("127.0.0.1"), "port", property.New(float64(r.Port)), "password", str("x"),
		"dialErrorLimit", property.New(1.0))
	_, err := h.create("px-dead", obj("connection", keyConn(target, "proxy", property.New(deadProxy)),
		"create", str("true")), false)
	if want := "proxy: after 1 failed attempts: ssh: handshake failed: EOF"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if got := h.statusLines("px-dead"); !slices.Equal(got, []string{"Dial proxy 1/1 failed: retrying"}) {
		t.Errorf("status %q", got)
	}
}

func TestAgent(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: s.ClientPrivate}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", "")

	conn := obj("host", str(s.Host), "port", property.New(float64(s.Port)), "user", str("deploy"),
		"agentSocketPath", str(sock))
	_, state := h.mustCreate("ag", obj("connection", property.New(conn), "create", str("echo agent")))
	if getString(state, "stdout") != "agent" {
		t.Errorf("stdout %q", getString(state, "stdout"))
	}

	// SSH_AUTH_SOCK is used when agentSocketPath is unset; one that cannot be opened is an error,
	// even with a key that would do
	missing := filepath.Join(t.TempDir(), "gone.sock")
	t.Setenv("SSH_AUTH_SOCK", missing)
	_, err = h.create("ag-missing", obj("connection", keyConn(s), "create", str("true")), false)
	if want := "dial unix " + missing + ": connect: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestMissingTypesFailClearly(t *testing.T) {
	h := newHarness(t)
	for _, tk := range []string{"command:remote:CopyToRemote", "command:remote:CopyFile", "command:local:Command"} {
		urn := strings.Replace(string(urnOf("x")), string(commandType), tk, 1)
		_, err := h.server.Check(p.CheckRequest{Urn: presource.URN(urn), Inputs: property.Map{}})
		if err == nil || !strings.Contains(err.Error(), tk+" is not implemented by the test stand-in") {
			t.Errorf("%s: %v", tk, err)
		}
	}
	_, err := h.server.Invoke(p.InvokeRequest{Token: "command:local:run", Args: property.Map{}})
	if err == nil || !strings.Contains(err.Error(), "command:local:run is not implemented by the test stand-in") {
		t.Errorf("command:local:run: %v", err)
	}
}
