package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/infer/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// CopyToRemote copies a local file, directory or string to a remote host over SFTP
// (command:remote:CopyToRemote).
type CopyToRemote struct{}

func (c *CopyToRemote) Annotate(a infer.Annotator) {
	a.Describe(&c, "Copies a StringAsset, FileAsset or FileArchive (a file or directory) to a remote host "+
		"over SFTP. (Test stand-in for pulumi-command 1.2.1.)")
}

// CopyToRemoteInputs are the inputs of command:remote:CopyToRemote.
type CopyToRemoteInputs struct {
	Connection *Connection          `pulumi:"connection" provider:"secret"`
	Triggers   *[]any               `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Source     types.AssetOrArchive `pulumi:"source"`
	RemotePath string               `pulumi:"remotePath"`
}

func (c *CopyToRemoteInputs) Annotate(a infer.Annotator) {
	a.Describe(&c.Connection, "How to reach the remote host.")
	a.Describe(&c.Triggers, "Changing any of these values replaces the resource.")
	a.Describe(&c.Source, "What to copy: a StringAsset, a FileAsset, or a FileArchive of a file or directory "+
		"(copied as is, never unpacked).")
	a.Describe(&c.RemotePath, "Where to copy it; missing parent directories are created.")
}

// CopyToRemoteOutputs are the state of command:remote:CopyToRemote: its inputs.
type CopyToRemoteOutputs struct {
	CopyToRemoteInputs
}

var (
	_ infer.CustomResource[CopyToRemoteInputs, CopyToRemoteOutputs] = (*CopyToRemote)(nil)
	_ infer.CustomCheck[CopyToRemoteInputs]                         = (*CopyToRemote)(nil)
	_ infer.CustomUpdate[CopyToRemoteInputs, CopyToRemoteOutputs]   = (*CopyToRemote)(nil)
)

// Check applies the defaults, then requires exactly one of a text or path asset, or a path
// archive. (The failures name "asset"/"archive", as the real provider's do.)
func (*CopyToRemote) Check(
	ctx context.Context, req infer.CheckRequest,
) (infer.CheckResponse[CopyToRemoteInputs], error) {
	in, failures, err := infer.DefaultCheck[CopyToRemoteInputs](ctx, req.NewInputs)
	if err != nil {
		return infer.CheckResponse[CopyToRemoteInputs]{Inputs: in, Failures: failures}, err
	}
	asset, archive := in.Source.Asset, in.Source.Archive
	fail := func(property, reason string) {
		failures = append(failures, p.CheckFailure{Property: property, Reason: reason})
	}
	switch {
	case asset != nil && archive != nil:
		fail("asset", "only one of asset or archive can be set")
	case asset == nil && archive == nil:
		fail("asset", "either asset or archive must be set")
	}
	if asset != nil && !asset.IsPath() && !asset.IsText() {
		fail("asset", "asset must be a path-based file asset or a text asset")
	}
	if archive != nil && !archive.IsPath() {
		fail("archive", "archive must be a path to a file or directory")
	}
	return infer.CheckResponse[CopyToRemoteInputs]{Inputs: in, Failures: failures}, nil
}

// Create copies (nothing in a preview, whose ID is empty). The ID is 8 random hex digits.
func (*CopyToRemote) Create(
	ctx context.Context, req infer.CreateRequest[CopyToRemoteInputs],
) (infer.CreateResponse[CopyToRemoteOutputs], error) {
	out := CopyToRemoteOutputs{req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[CopyToRemoteOutputs]{Output: out}, nil
	}
	if err := req.Inputs.copy(ctx); err != nil {
		return infer.CreateResponse[CopyToRemoteOutputs]{Output: out}, err
	}
	id, err := resource.NewUniqueHex("", 8, 0)
	return infer.CreateResponse[CopyToRemoteOutputs]{ID: id, Output: out}, err
}

// Update copies again only when the source's hash or the remote path changed (nothing in a
// preview). A changed connection alone copies nothing.
func (*CopyToRemote) Update(
	ctx context.Context, req infer.UpdateRequest[CopyToRemoteInputs, CopyToRemoteOutputs],
) (infer.UpdateResponse[CopyToRemoteOutputs], error) {
	out := CopyToRemoteOutputs{req.Inputs}
	if req.DryRun {
		return infer.UpdateResponse[CopyToRemoteOutputs]{Output: out}, nil
	}
	if req.Inputs.sourceHash() == req.State.sourceHash() && req.Inputs.RemotePath == req.State.RemotePath {
		return infer.UpdateResponse[CopyToRemoteOutputs]{Output: out}, nil
	}
	return infer.UpdateResponse[CopyToRemoteOutputs]{Output: out}, req.Inputs.copy(ctx)
}

// There is no Delete: like the real provider, deleting the resource leaves the copy in place.

func (c *CopyToRemoteInputs) sourceHash() string {
	if c.Source.Archive != nil {
		return c.Source.Archive.Hash
	}
	if c.Source.Asset != nil {
		return c.Source.Asset.Hash
	}
	return ""
}

// copy dials the host and copies the source over SFTP.
func (c *CopyToRemoteInputs) copy(ctx context.Context) error {
	text := c.Source.Asset != nil && c.Source.Asset.IsText()
	var local string
	switch {
	case text:
		p.GetLogger(ctx).Debugf("Creating file: %s:%s from text asset", *c.Connection.Host, c.RemotePath)
	case c.Source.Asset != nil:
		local = c.Source.Asset.Path
	default:
		local = c.Source.Archive.Path
	}
	if !text {
		p.GetLogger(ctx).Debugf("Creating file: %s:%s from local file %s", *c.Connection.Host, c.RemotePath, local)
	}

	client, err := c.Connection.dial(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	remote, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return err
	}
	defer remote.Close()

	if text {
		return writeText(remote, c.Source.Asset.Text, c.RemotePath)
	}
	return copyPath(remote, local, c.RemotePath)
}

// statRemote is the remote path's info, nil when it does not exist.
func statRemote(remote *sftp.Client, path string) (fs.FileInfo, error) {
	info, err := remote.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to stat remote path %s: %w", path, err)
	}
	return info, nil
}

// writeText writes a StringAsset's text to dest, a file path (an existing directory is an error).
func writeText(remote *sftp.Client, text, dest string) error {
	info, err := statRemote(remote, dest)
	if err != nil {
		return err
	}
	if info != nil && info.IsDir() {
		return fmt.Errorf("remote path %s is a directory; when using a text asset, remotePath must be a file path", dest)
	}
	if err := remote.MkdirAll(filepath.Dir(dest)); err != nil {
		return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
	}
	f, err := remote.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(text)); err != nil {
		return fmt.Errorf("failed to write text content to remote path %s: %w", dest, err)
	}
	return nil
}

// copyPath copies a local file or directory (as the real provider does):
//
//	source | dest is a directory | dest is missing       | dest is a file
//	-------+---------------------+-----------------------+-------------------
//	dir    | dest/dir            | dest/dir (dest made)  | error
//	dir/   | dest/<each entry>   | dest/<each entry>     | error
//	file   | dest/file           | dest (parents made)   | dest, overwritten
func copyPath(remote *sftp.Client, src, dest string) error {
	local, err := os.Open(src)
	if err != nil {
		return err
	}
	defer local.Close()
	srcInfo, err := local.Stat()
	if err != nil {
		return err
	}
	destInfo, err := statRemote(remote, dest)
	if err != nil {
		return err
	}

	if !srcInfo.IsDir() {
		switch {
		case destInfo != nil && destInfo.IsDir():
			dest = filepath.Join(dest, filepath.Base(src))
		case destInfo == nil:
			if err := remote.MkdirAll(filepath.Dir(dest)); err != nil {
				return fmt.Errorf("failed to create parent directories for %s: %w", dest, err)
			}
		}
		return copyFile(remote, src, dest)
	}

	if destInfo == nil {
		if err := remote.MkdirAll(dest); err != nil {
			return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
		}
	}
	if !strings.HasSuffix(src, "/") {
		dest = filepath.Join(dest, filepath.Base(src))
		inner, err := statRemote(remote, dest)
		if err != nil {
			return err
		}
		if inner != nil && !inner.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", dest)
		}
		if inner == nil {
			if err := remote.Mkdir(dest); err != nil {
				return fmt.Errorf("failed to create remote directory %s: %w", dest, err)
			}
		}
	}
	return copyTree(remote, src, dest)
}

func copyFile(remote *sftp.Client, src, dest string) error {
	local, err := os.Open(src)
	if err != nil {
		return err
	}
	defer local.Close()
	f, err := remote.Create(dest)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dest, err)
	}
	defer f.Close()
	if _, err := f.ReadFrom(local); err != nil {
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dest, err)
	}
	return nil
}

// copyTree copies the contents of the local directory src into the remote directory dest, one file
// at a time.
func copyTree(remote *sftp.Client, src, dest string) error {
	return fs.WalkDir(os.DirFS(src), ".", func(rel string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dest, rel)
		if !entry.IsDir() {
			return copyFile(remote, filepath.Join(src, rel), target)
		}
		info, err := statRemote(remote, target)
		if err != nil {
			return err
		}
		switch {
		case info == nil:
			if err := remote.Mkdir(target); err != nil {
				return fmt.Errorf("failed to create remote directory %s: %w", target, err)
			}
		case !info.IsDir():
			return fmt.Errorf("remote path %s exists but is not a directory", target)
		}
		return nil
	})
}
