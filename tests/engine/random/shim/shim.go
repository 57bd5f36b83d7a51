// Package shim exposes the Terraform random provider's constructor, which lives in an internal
// package of github.com/terraform-providers/terraform-provider-random. Go allows the import only
// from a package whose path lies under that module's path, hence this module's path; the wrapper
// module wires it in with a `replace ... => ./shim`.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	randomprovider "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// New returns a fresh instance of the Terraform Plugin Framework random provider.
func New() provider.Provider {
	return randomprovider.New()
}
