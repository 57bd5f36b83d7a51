// Package provider describes how the Pulumi Terraform bridge maps the Terraform random provider
// onto the Pulumi package "random", so that it matches the released pulumi-random 4.x plugin:
// the same package name, version, resource tokens (random:index/<x>:<X>) and property names.
//
// Property names and secrets need no overrides: the bridge derives camelCase names from the
// Terraform attribute names (min_upper -> minUpper, bcrypt_hash -> bcryptHash), and marks every
// attribute that the Terraform schema declares Sensitive (random_password's result and
// bcrypt_hash, random_bytes' base64 and hex) as a Pulumi secret.
package provider

import (
	"context"
	"errors"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Version is the pulumi-random release this build stands in for.
const Version = "4.21.2"

// resourceTypes maps each Terraform resource type to the Pulumi type name it has in
// pulumi-random 4.x (module "index").
var resourceTypes = map[string]string{
	"random_bytes":    "RandomBytes",
	"random_id":       "RandomId",
	"random_integer":  "RandomInteger",
	"random_password": "RandomPassword",
	"random_pet":      "RandomPet",
	"random_shuffle":  "RandomShuffle",
	"random_string":   "RandomString",
	"random_uuid":     "RandomUuid",
	"random_uuid4":    "RandomUuid4",
	"random_uuid7":    "RandomUuid7",
}

// Provider returns the bridge configuration. metadata is the bridge-metadata.json that tfgen
// wrote at build time (nil while tfgen itself runs: it starts from empty metadata and writes it).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(shim.New()),
		Name:         "random",
		Version:      Version,
		Description:  "A Pulumi package to safely use randomness in Pulumi programs.",
		Keywords:     []string{"pulumi", "random"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-random",
		GitHubOrg:    "terraform-providers",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources:    map[string]*tfbridge.ResourceInfo{},
		JavaScript: &tfbridge.JavaScriptInfo{
			RespectSchemaVersion: true,
		},
		// The released plugin also sets EnableAccurateBridgePreview and EnableRawStateDelta:
		// both are deprecated and on by default in bridge v3.137.0 (the state records
		// __pulumi_raw_state_delta without them).
	}
	for tfType, name := range resourceTypes {
		info.Resources[tfType] = &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("random", "index", name)}
	}
	// random_bytes has no "id" attribute; like the released plugin, use its base64 value.
	info.Resources["random_bytes"].ComputeID = idFromBase64

	info.MustApplyAutoAliases()
	return info
}

// idFromBase64 uses a random_bytes resource's base64 output as its Pulumi ID. The value is a
// secret in the state, and IDs cannot be secret, so it is unwrapped.
func idFromBase64(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	value, ok := state["base64"]
	if !ok {
		return "", errors.New("random_bytes: the state has no base64 property to use as the ID")
	}
	for value.IsSecret() {
		value = value.SecretValue().Element
	}
	if !value.IsString() {
		return "", errors.New("random_bytes: the base64 property is not a string")
	}
	return resource.ID(value.StringValue()), nil
}
