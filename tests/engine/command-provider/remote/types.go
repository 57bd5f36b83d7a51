// Package remote is the test stand-in's `command:remote:*` module. The Go package name is part of
// the interface: pulumi-go-provider derives the type tokens (command:remote:Command,
// command:remote:Connection, ...) from it.
//
// The struct shapes, `pulumi:` names, `provider:` tags and defaults below mirror the schema of
// pulumi-command 1.2.1 (provider/cmd/pulumi-resource-command/schema.json), because the
// @pulumi/command 1.2.1 Node SDK sends exactly those properties and pulumi-go-provider derives
// Check (defaults, secrets) and Diff (replaceOnChanges) from them.
package remote

import "github.com/pulumi/pulumi-go-provider/infer"

// Command runs a shell command on a remote host over SSH (command:remote:Command).
type Command struct{}

// Annotate describes the resource in the schema.
func (c *Command) Annotate(a infer.Annotator) {
	a.Describe(&c, "A command run on a remote host over SSH. (Test stand-in for pulumi-command 1.2.1.)")
}

// lifecycleInputs are the command strings and the replacement triggers.
type lifecycleInputs struct {
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
}

func (l *lifecycleInputs) Annotate(a infer.Annotator) {
	a.Describe(&l.Triggers, "Changing any of these values replaces the resource (create the new one, then delete the old).")
	a.Describe(&l.Create, "Run once when the resource is created; also on update when `update` is unset.")
	a.Describe(&l.Update, "Run when any input other than `triggers` changes. Defaults to `create`.")
	a.Describe(&l.Delete, "Run when the resource is deleted (or replaced), with the last stdout/stderr "+
		"offered as PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR.")
}

// CommandInputs are the inputs of command:remote:Command.
type CommandInputs struct {
	lifecycleInputs
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *Logging          `pulumi:"logging,optional"`
	Connection             *Connection       `pulumi:"connection" provider:"secret"`
	Environment            map[string]string `pulumi:"environment,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
}

func (c *CommandInputs) Annotate(a infer.Annotator) {
	a.Describe(&c.Stdin, "Written to the command's standard input.")
	a.Describe(&c.Logging, "Which of stdout/stderr are shown as logs while the command runs (default: both).")
	a.Describe(&c.Connection, "How to reach the remote host.")
	a.Describe(&c.Environment, "Environment variables, sent as SSH `env` requests (the server must AcceptEnv them).")
	a.Describe(&c.AddPreviousOutputInEnv, "Send the previous stdout/stderr as PULUMI_COMMAND_STDOUT / "+
		"PULUMI_COMMAND_STDERR `env` requests. Defaults to true.")
}

// commandResult is what a successful run captured.
type commandResult struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

func (r *commandResult) Annotate(a infer.Annotator) {
	a.Describe(&r.Stdout, "Standard output of the last successful run, less one trailing newline.")
	a.Describe(&r.Stderr, "Standard error of the last successful run, less one trailing newline.")
}

// CommandOutputs are the state of command:remote:Command: every input, plus stdout and stderr.
type CommandOutputs struct {
	CommandInputs
	commandResult
}

// endpoint is the part shared by Connection and ProxyConnection.
type endpoint struct {
	User               *string  `pulumi:"user,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	Host               *string  `pulumi:"host"`
	Port               *float64 `pulumi:"port,optional"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
}

const (
	defaultUser           = "root"
	defaultPort           = 22
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

// annotateEndpoint sets the descriptions and defaults (applied by Check) of an endpoint.
func annotateEndpoint(a infer.Annotator, e *endpoint, what string) {
	a.Describe(&e.User, "User name on "+what+". Defaults to root.")
	a.SetDefault(&e.User, defaultUser)
	a.Describe(&e.Password, "Password for "+what+" (password and keyboard-interactive authentication).")
	a.Describe(&e.Host, "Address of "+what+".")
	a.Describe(&e.Port, "SSH port of "+what+". Defaults to 22.")
	a.SetDefault(&e.Port, defaultPort)
	a.Describe(&e.PrivateKey, "Private key (PEM/OpenSSH text) for "+what+".")
	a.Describe(&e.PrivateKeyPassword, "Passphrase of an encrypted privateKey.")
	a.Describe(&e.AgentSocketPath, "SSH agent socket. Defaults to $SSH_AUTH_SOCK when set.")
	a.Describe(&e.DialErrorLimit, "How many failed dials are tolerated; -1 is unlimited. Defaults to 10.")
	a.SetDefault(&e.DialErrorLimit, defaultDialErrorLimit)
	a.Describe(&e.PerDialTimeout, "Seconds allowed for each TCP connect; 0 is no limit. Defaults to 15.")
	a.SetDefault(&e.PerDialTimeout, defaultPerDialTimeout)
	a.Describe(&e.HostKey, "Expected host key (authorized_keys format). Unset: the host key is not checked.")
}

// Connection is command:remote:Connection.
type Connection struct {
	endpoint
	Proxy *ProxyConnection `pulumi:"proxy,optional"`
}

func (c *Connection) Annotate(a infer.Annotator) {
	a.Describe(&c, "How to reach a remote host over SSH.")
	annotateEndpoint(a, &c.endpoint, "the remote host")
	a.Describe(&c.Proxy, "A bastion host to reach the remote host through.")
}

// ProxyConnection is command:remote:ProxyConnection (a bastion host).
type ProxyConnection struct {
	endpoint
}

func (c *ProxyConnection) Annotate(a infer.Annotator) {
	a.Describe(&c, "How to reach a bastion host over SSH.")
	annotateEndpoint(a, &c.endpoint, "the bastion host")
}

// Logging is command:remote:Logging.
type Logging string

const (
	LogStdout          Logging = "stdout"
	LogStderr          Logging = "stderr"
	LogStdoutAndStderr Logging = "stdoutAndStderr"
	LogNone            Logging = "none"
)

// Values lists the enum for the schema (and for Check's validation).
func (Logging) Values() []infer.EnumValue[Logging] {
	return []infer.EnumValue[Logging]{
		{Name: string(LogStdout), Value: LogStdout, Description: "Log stdout only"},
		{Name: string(LogStderr), Value: LogStderr, Description: "Log stderr only"},
		{Name: string(LogStdoutAndStderr), Value: LogStdoutAndStderr, Description: "Log stdout and stderr"},
		{Name: string(LogNone), Value: LogNone, Description: "Log nothing"},
	}
}

// logsStdout: unset means both streams are logged.
func (l *Logging) logsStdout() bool {
	return l == nil || *l == LogStdout || *l == LogStdoutAndStderr
}

func (l *Logging) logsStderr() bool {
	return l == nil || *l == LogStderr || *l == LogStdoutAndStderr
}
