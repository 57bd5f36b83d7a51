// Command pulumi-resource-command is a test stand-in for the Pulumi Command provider 1.2.1
// (command:remote:Command and command:remote:CopyToRemote only). See README.md.
package main

import (
	"context"
	"fmt"
	"os"

	"synapse.test/engine/command-provider/provider"
)

func main() {
	if err := provider.New().Run(context.Background(), provider.Name, provider.Version); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s", err)
		os.Exit(1)
	}
}
