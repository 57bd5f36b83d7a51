// Package provider assembles the test stand-in for pulumi-command 1.2.1: the `command` package
// with command:remote:Command only.
package provider

import (
	"context"
	"fmt"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/middleware/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"synapse.test/engine/command-provider/remote"
)

const (
	// Name is the Pulumi package name.
	Name = "command"
	// Version is the pulumi-command release whose behaviour the stand-in copies.
	Version = "1.2.1"
)

// missing are the types of pulumi-command 1.2.1 the stand-in does not implement.
var missing = map[tokens.Type]bool{
	"command:local:Command":       true,
	"command:remote:CopyToRemote": true,
	"command:remote:CopyFile":     true,
	"command:local:run":           true,
}

func notImplemented(tk tokens.Type) error {
	return fmt.Errorf("%s is not implemented by the test stand-in for pulumi-command %s "+
		"(tests/engine/command-provider implements command:remote:Command only; see its README)", tk, Version)
}

// New returns the stand-in provider.
func New() p.Provider {
	prov := infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "Command (test stand-in)",
			Description: "A test stand-in for the Pulumi Command provider 1.2.1: remote.Command only.",
			Keywords:    []string{"pulumi", "command", "category/utility", "kind/native"},
			Homepage:    "https://pulumi.com",
			License:     "Apache-2.0",
			Repository:  "https://github.com/pulumi/pulumi-command",
			Publisher:   "Pulumi",
		},
		Resources: []infer.InferredResource{
			infer.Resource(&remote.Command{}),
		},
	})

	// A program using a missing type gets an error naming it, rather than "Resource ... not found".
	check := prov.Check
	prov.Check = func(ctx context.Context, req p.CheckRequest) (p.CheckResponse, error) {
		if tk := req.Urn.Type(); missing[tk] {
			return p.CheckResponse{}, notImplemented(tk)
		}
		return check(ctx, req)
	}
	invoke := prov.Invoke
	prov.Invoke = func(ctx context.Context, req p.InvokeRequest) (p.InvokeResponse, error) {
		if missing[req.Token] {
			return p.InvokeResponse{}, notImplemented(req.Token)
		}
		return invoke(ctx, req)
	}
	return prov
}
