// The Pulumi program's entry: the stack's outputs are what program.ts returns.
import { synapseProgram } from "./program";

export = synapseProgram();
