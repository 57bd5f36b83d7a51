package provider_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"synapse.test/engine/command-provider/internal/sshtest"
)

const copyType = "command:remote:CopyToRemote"

func copyURN(name string) presource.URN {
	return presource.NewURN("test", "proj", "", copyType, name)
}

func textAsset(t *testing.T, text string) property.Value {
	t.Helper()
	a, err := asset.FromText(text)
	if err != nil {
		t.Fatal(err)
	}
	return property.New(a)
}

func fileAsset(t *testing.T, path string) property.Value {
	t.Helper()
	a, err := asset.FromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return property.New(a)
}

func pathArchive(t *testing.T, path string) property.Value {
	t.Helper()
	a, err := archive.FromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return property.New(a)
}

func (h *harness) checkCopy(name string, inputs property.Map) (property.Map, []p.CheckFailure) {
	h.t.Helper()
	resp, err := h.server.Check(p.CheckRequest{Urn: copyURN(name), Inputs: inputs})
	if err != nil {
		h.t.Fatalf("check: %v", err)
	}
	return h.wire(resp.Inputs), resp.Failures
}

func (h *harness) createCopy(name string, inputs property.Map, preview bool) (p.CreateResponse, error) {
	h.t.Helper()
	checked, failures := h.checkCopy(name, inputs)
	if len(failures) > 0 {
		h.t.Fatalf("check failures: %+v", failures)
	}
	resp, err := h.server.Create(p.CreateRequest{Urn: copyURN(name), Properties: checked, DryRun: preview})
	resp.Properties = h.wire(resp.Properties)
	return resp, err
}

func (h *harness) updateCopy(name, id string, state, inputs property.Map) (p.UpdateResponse, error) {
	h.t.Helper()
	checked, failures := h.checkCopy(name, inputs)
	if len(failures) > 0 {
		h.t.Fatalf("check failures: %+v", failures)
	}
	resp, err := h.server.Update(p.UpdateRequest{ID: id, Urn: copyURN(name), State: state, Inputs: checked})
	resp.Properties = h.wire(resp.Properties)
	return resp, err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCopyTextAssetCreatesParentsAndRecopiesOnlyOnChange(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	dest := filepath.Join(t.TempDir(), "etc", "deep", "motd.txt")
	inputs := obj("connection", keyConn(s), "source", textAsset(t, "welcome\n"), "remotePath", str(dest))

	if _, err := h.createCopy("motd", inputs, true); err != nil {
		t.Fatal(err)
	}
	if s.Accepts() != 0 {
		t.Errorf("a preview connected")
	}

	resp, err := h.createCopy("motd", inputs, false)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(resp.ID) {
		t.Errorf("ID %q is not 8 hex digits", resp.ID)
	}
	if got := readFile(t, dest); got != "welcome\n" {
		t.Errorf("copied %q", got)
	}
	if !resp.Properties.Get("connection").Secret() || !resp.Properties.Get("source").IsAsset() {
		t.Errorf("state %v", resp.Properties)
	}

	// the same source: nothing is copied (the remote edit survives)
	writeFile(t, dest, "edited remotely")
	sessions := s.SFTPSessions()
	up, err := h.updateCopy("motd", resp.ID, resp.Properties, with(inputs, "connection", keyConn(s, "perDialTimeout",
		property.New(5.0))))
	if err != nil {
		t.Fatal(err)
	}
	if s.SFTPSessions() != sessions || readFile(t, dest) != "edited remotely" {
		t.Errorf("an unchanged source was copied again")
	}

	// a new text: copied
	if _, err := h.updateCopy("motd", resp.ID, up.Properties, with(inputs, "source", textAsset(t, "v2\n"))); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dest); got != "v2\n" {
		t.Errorf("after a source change: %q", got)
	}
}

func TestCopyTextAssetOntoADirectoryFails(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	dir := t.TempDir()
	_, err := h.createCopy("onto-dir", obj("connection", keyConn(s), "source", textAsset(t, "x"),
		"remotePath", str(dir)), false)
	want := "remote path " + dir + " is a directory; when using a text asset, remotePath must be a file path"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestCopyFilesAndDirectories(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "conf", "a.txt"), "A")
	writeFile(t, filepath.Join(src, "conf", "sub", "b.txt"), "B")
	writeFile(t, filepath.Join(src, "single.txt"), "S")

	for _, tc := range []struct {
		name   string
		source func() property.Value
		dest   func(root string) string // remotePath under a fresh root
		setup  func(root string)
		want   map[string]string // relative to root
	}{
		{"file to a missing path", func() property.Value { return fileAsset(t, filepath.Join(src, "single.txt")) },
			func(r string) string { return filepath.Join(r, "x", "y.txt") }, nil,
			map[string]string{"x/y.txt": "S"}},
		{"file into a directory", func() property.Value { return fileAsset(t, filepath.Join(src, "single.txt")) },
			func(r string) string { return r }, nil,
			map[string]string{"single.txt": "S"}},
		{"file over a file", func() property.Value { return fileAsset(t, filepath.Join(src, "single.txt")) },
			func(r string) string { return filepath.Join(r, "old.txt") },
			func(r string) { writeFile(t, filepath.Join(r, "old.txt"), "old content") },
			map[string]string{"old.txt": "S"}},
		{"directory into a directory", func() property.Value { return pathArchive(t, filepath.Join(src, "conf")) },
			func(r string) string { return r }, nil,
			map[string]string{"conf/a.txt": "A", "conf/sub/b.txt": "B"}},
		{"directory to a missing path", func() property.Value { return pathArchive(t, filepath.Join(src, "conf")) },
			func(r string) string { return filepath.Join(r, "new") }, nil,
			map[string]string{"new/conf/a.txt": "A", "new/conf/sub/b.txt": "B"}},
		{"directory/ contents into a directory", func() property.Value {
			return pathArchive(t, filepath.Join(src, "conf")+"/")
		}, func(r string) string { return r }, nil,
			map[string]string{"a.txt": "A", "sub/b.txt": "B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.setup != nil {
				tc.setup(root)
			}
			_, err := h.createCopy("cp", obj("connection", keyConn(s), "source", tc.source(),
				"remotePath", str(tc.dest(root))), false)
			if err != nil {
				t.Fatal(err)
			}
			for rel, want := range tc.want {
				if got := readFile(t, filepath.Join(root, rel)); got != want {
					t.Errorf("%s = %q, want %q", rel, got, want)
				}
			}
		})
	}

	// a directory onto a file fails
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "file"), "f")
	_, err := h.createCopy("cp-bad", obj("connection", keyConn(s), "source", pathArchive(t, filepath.Join(src, "conf")+"/"),
		"remotePath", str(filepath.Join(root, "file"))), false)
	if err == nil || !strings.Contains(err.Error(), "exists but is not a directory") {
		t.Errorf("a directory onto a file: %v", err)
	}
}

func TestCopyCheckRequiresOneUsableSource(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	base := obj("connection", keyConn(s), "remotePath", str("/tmp/x"))

	uri := &asset.Asset{Sig: asset.AssetSig, URI: "https://example.com/x", Hash: strings.Repeat("0", 64)}
	_, failures := h.checkCopy("uri", with(base, "source", property.New(uri)))
	if len(failures) != 1 || failures[0].Property != "asset" ||
		failures[0].Reason != "asset must be a path-based file asset or a text asset" {
		t.Errorf("a URI asset: %+v", failures)
	}

	checked, failures := h.checkCopy("ok", with(base, "source", textAsset(t, "x")))
	if len(failures) != 0 {
		t.Errorf("a text asset: %+v", failures)
	}
	conn := checked.Get("connection")
	if !conn.Secret() || conn.AsMap().Get("dialErrorLimit").AsNumber() != 10 {
		t.Errorf("connection defaults/secret not applied: %v", conn)
	}
}

func TestCopyDiffReplacesOnTriggersOnly(t *testing.T) {
	h := newHarness(t)
	s := sshtest.Start(t)
	dest := filepath.Join(t.TempDir(), "f")
	base := obj("connection", keyConn(s), "source", textAsset(t, "a"), "remotePath", str(dest))
	resp, err := h.createCopy("cpd", base, false)
	if err != nil {
		t.Fatal(err)
	}
	diff := func(inputs property.Map) p.DiffResponse {
		checked, _ := h.checkCopy("cpd", inputs)
		d, err := h.server.Diff(p.DiffRequest{ID: resp.ID, Urn: copyURN("cpd"), State: resp.Properties, Inputs: checked})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := diff(with(base, "remotePath", str(dest+"2"))); d.DetailedDiff["remotePath"].Kind != p.Update {
		t.Errorf("remotePath change: %+v", d.DetailedDiff)
	}
	if d := diff(with(base, "triggers", property.New(property.NewArray([]property.Value{str("1")})))); d.DetailedDiff["triggers"].Kind != p.AddReplace {
		t.Errorf("triggers added: %+v", d.DetailedDiff)
	}
}
