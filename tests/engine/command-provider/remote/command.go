package remote

import (
	"context"

	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Check and Diff are pulumi-go-provider's defaults, derived from the struct tags: Check applies
// the connection defaults and secrets; Diff compares the old and new inputs, a change of
// `triggers` (replaceOnChanges) being a replacement and any other change an update.
var (
	_ infer.CustomResource[CommandInputs, CommandOutputs] = (*Command)(nil)
	_ infer.CustomUpdate[CommandInputs, CommandOutputs]   = (*Command)(nil)
	_ infer.CustomDelete[CommandOutputs]                  = (*Command)(nil)
)

// Create runs `create` (nothing in a preview, nothing when unset). The ID is the resource name
// followed by 8 random hex digits.
func (*Command) Create(
	ctx context.Context, req infer.CreateRequest[CommandInputs],
) (infer.CreateResponse[CommandOutputs], error) {
	state := CommandOutputs{CommandInputs: req.Inputs}
	id, err := resource.NewUniqueHex(req.Name, 8, 0)
	if err != nil {
		return infer.CreateResponse[CommandOutputs]{Output: state}, err
	}
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[CommandOutputs]{ID: id, Output: state}, nil
	}
	err = state.execute(ctx, *req.Inputs.Create, req.Inputs.Logging)
	return infer.CreateResponse[CommandOutputs]{ID: id, Output: state}, err
}

// Update runs `update`, or `create` when `update` is unset (nothing in a preview). The new state
// starts from the new inputs and the previous stdout/stderr, which are what
// addPreviousOutputInEnv sends, and which stay when nothing runs.
func (*Command) Update(
	ctx context.Context, req infer.UpdateRequest[CommandInputs, CommandOutputs],
) (infer.UpdateResponse[CommandOutputs], error) {
	state := CommandOutputs{CommandInputs: req.Inputs, commandResult: req.State.commandResult}
	if req.DryRun {
		return infer.UpdateResponse[CommandOutputs]{Output: state}, nil
	}
	var cmd *string
	switch {
	case req.Inputs.Update != nil:
		cmd = req.Inputs.Update
	case req.Inputs.Create != nil:
		cmd = req.Inputs.Create
	}
	var err error
	if cmd != nil {
		err = state.execute(ctx, *cmd, req.Inputs.Logging)
	}
	return infer.UpdateResponse[CommandOutputs]{Output: state}, err
}

// Delete runs `delete` from the last state (its connection, environment, logging, stdin and
// output), when set.
func (*Command) Delete(ctx context.Context, req infer.DeleteRequest[CommandOutputs]) (infer.DeleteResponse, error) {
	state := req.State
	if state.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	return infer.DeleteResponse{}, state.execute(ctx, *state.Delete, state.Logging)
}
