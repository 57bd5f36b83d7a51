// Command pulumi-tfgen-random generates, at build time, what the random plugin embeds: the Pulumi
// package schema and the bridge metadata, derived by the bridge's tfgen from the Terraform random
// provider's own schema.
//
//	pulumi-tfgen-random OUT_DIR
//
// writes OUT_DIR/schema.json (no version, as tfgen writes it), OUT_DIR/bridge-metadata.json and
// OUT_DIR/schema-embed.json (compact, with "version" set: what GetSchema serves).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"synapse.test/engine/random/provider"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || os.Args[1][0] == '-' {
		fmt.Fprintln(os.Stderr, "usage: pulumi-tfgen-random OUT_DIR")
		os.Exit(2)
	}
	out := os.Args[1]

	// tfgen's own command line. --skip-examples: converting the Terraform docs' HCL examples
	// needs `pulumi convert` and the Terraform converter plugin, which cannot be downloaded
	// here; descriptions keep their prose, without the examples. tfgen exits non-zero itself
	// on failure.
	os.Args = []string{os.Args[0], "schema", "--skip-examples", "--out", out}
	pftfgen.Main("random", provider.Provider(nil))

	if err := writeVersionedSchema(out); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-tfgen-random: %v\n", err)
		os.Exit(1)
	}
}

// writeVersionedSchema adds the plugin version to the schema tfgen wrote (tfgen leaves it out so
// that schema.json does not change with every release) and writes it compactly for embedding.
func writeVersionedSchema(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	if err != nil {
		return err
	}
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(raw, &schema); err != nil {
		return fmt.Errorf("schema.json: %w", err)
	}
	if schema["version"], err = json.Marshal(provider.Version); err != nil {
		return err
	}
	embedded, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "schema-embed.json"), embedded, 0o644)
}
