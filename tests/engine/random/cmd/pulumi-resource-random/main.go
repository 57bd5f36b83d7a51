// Command pulumi-resource-random is the Pulumi resource plugin for the package "random": the
// Terraform random provider served through the Pulumi Terraform bridge (Plugin Framework).
//
// It embeds two files that are not committed: build.sh generates them with pulumi-tfgen-random
// into a scratch copy of this module before building this package.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"synapse.test/engine/random/provider"
)

//go:embed schema-embed.json
var schema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	pftfbridge.Main(context.Background(), "random", provider.Provider(bridgeMetadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema})
}
